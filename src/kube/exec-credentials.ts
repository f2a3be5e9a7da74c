/**
 * An exec credential plugin as a CredentialSource, cached as client-go caches it: the plugin runs
 * on the first request (never at start-up, and never when flags replace the kubeconfig user), its
 * result is reused until status.expirationTimestamp, and a 401 answered to the cached result runs
 * it again. Concurrent requests share one run; a run is stopped only when every request waiting
 * for it has been aborted.
 */
import type { ExecConfig } from './exec-config.js';
import { execLabel, type ExecClusterInfo, type ExecResult } from './exec-credential.js';
import { runExecPlugin, type ExecRunOptions } from './exec-run.js';
import { sameCredentials, type CredentialSource, type Credentials } from './credentials.js';
import { abortError } from '../util/abort.js';

export interface ExecCredentialOptions {
  readonly cluster?: ExecClusterInfo;
  /** Test seams. */
  readonly now?: () => number;
  readonly run?: (cfg: ExecConfig, o: ExecRunOptions) => Promise<ExecResult>;
}

interface Shared {
  readonly result: Promise<Credentials>;
  readonly controller: AbortController;
  waiters: number;
}

export function execCredentials(cfg: ExecConfig, opts: ExecCredentialOptions = {}): CredentialSource {
  const now = opts.now ?? Date.now;
  const run = opts.run ?? runExecPlugin;
  let cached: { readonly creds: Credentials; readonly expiresAt?: number } | undefined;
  let running: Shared | undefined;

  // client-go's rule: expired once the clock is past expirationTimestamp (no early refresh).
  const valid = (): Credentials | undefined =>
    cached !== undefined && (cached.expiresAt === undefined || now() <= cached.expiresAt)
      ? cached.creds
      : undefined;

  const start = (): Shared => {
    const controller = new AbortController();
    const result = run(cfg, {
      signal: controller.signal,
      ...(opts.cluster === undefined ? {} : { cluster: opts.cluster }),
    })
      .then((r) => {
        const creds: Credentials = {
          ...(r.token === undefined ? {} : { token: r.token }),
          ...(r.client === undefined ? {} : { client: r.client }),
        };
        cached = { creds, ...(r.expiresAt === undefined ? {} : { expiresAt: r.expiresAt }) };
        return creds;
      })
      .finally(() => {
        running = undefined;
      });
    return { result, controller, waiters: 0 };
  };

  /** Joins the current run (starting one if needed), leaving it when `signal` aborts. */
  const join = (signal: AbortSignal | undefined): Promise<Credentials> => {
    const shared = (running ??= start());
    shared.waiters++;
    if (signal === undefined) return shared.result;
    return new Promise<Credentials>((resolve, reject) => {
      let left = false;
      const leave = (): void => {
        if (left) return;
        left = true;
        signal.removeEventListener('abort', onAbort);
        shared.waiters--;
      };
      const onAbort = (): void => {
        leave();
        if (shared.waiters === 0) shared.controller.abort(signal.reason);
        reject(abortError(signal, `running ${cfg.command}`));
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      shared.result.then(
        (c) => {
          leave();
          resolve(c);
        },
        (err: unknown) => {
          leave();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  };

  return {
    description: `credentials from the ${execLabel(cfg)}`,
    get: (signal) => {
      const c = valid();
      return c === undefined ? join(signal) : Promise.resolve(c);
    },
    renew: async (used, signal) => {
      // Another request may have refreshed already; only a rejected cached result is dropped.
      if (cached?.creds === used) cached = undefined;
      const next = valid() ?? (await join(signal));
      return sameCredentials(next, used) ? undefined : next;
    },
  };
}

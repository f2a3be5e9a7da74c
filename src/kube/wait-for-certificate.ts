/**
 * Waits until a CSR is approved and signed, and returns the certificate chain. This is where the
 * 2018 prototype hung or lied, so every way out is explicit, whichever way it waits (wait-mode.ts:
 * a watch on the one CSR, wait-watch.ts; or reading it by name, wait-poll.ts):
 *
 * - Denied / Failed / deleted end the wait with ERR_CSR_DENIED / ERR_CSR_FAILED / ERR_CSR_DELETED;
 * - Approved without a certificate keeps waiting (the signer has not run yet);
 * - network trouble and 5xx/429 are retried with backoff until the deadline;
 * - the deadline is ERR_TIMEOUT, saying how to approve by hand;
 * - a watch refused with 403 falls back to polling, with one info line;
 * - only a non-empty, parseable PEM chain is ever returned.
 */
import { AttestorError } from '../errors.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { abortError, sleep } from '../util/abort.js';
import { csrCondition, type CsrObject } from './csr-api.js';
import type { KubeClient } from './http.js';
import { isTransient, oneLine } from './kube-errors.js';
import { DEFAULT_WAIT_MODE, POLL_INITIAL_MS, POLL_MAX_MS, type WaitMode } from './wait-mode.js';
import { pollForCertificate } from './wait-poll.js';
import type { CertificateResult, WaitSession } from './wait-session.js';
import { watchForCertificate } from './wait-watch.js';
import { formatDuration } from '../util/duration.js';
import { parsePemBundle, sizeProblemText } from '../x509/pem.js';

export type { CertificateResult } from './wait-session.js';

export interface CsrProgress {
  readonly phase: 'pending' | 'approved';
  readonly csrName: string;
  readonly elapsedMs: number;
}

export interface WaitForCertificateOptions {
  /** Epoch milliseconds. */
  readonly deadline: number;
  readonly signal?: AbortSignal;
  /** Called on each phase change (first with 'pending'). Exceptions it throws are ignored. */
  readonly onProgress?: (p: CsrProgress) => void;
}

export interface WaitTuning {
  /** Longest single watch (server-side timeoutSeconds). Default 300. */
  readonly maxWatchSeconds?: number;
  /** Backoff after a failure or an empty, immediately ended watch. Defaults 250 ms doubling to 5 s. */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A watch that ends sooner than this without any event counts as "ended immediately". */
  readonly quickEndMs?: number;
  /** Polling steps (wait mode poll). Defaults 100 ms doubling to 2 s, jittered. */
  readonly pollInitialMs?: number;
  readonly pollMaxMs?: number;
  readonly now?: () => number;
}

export interface WaitDeps extends WaitTuning {
  readonly kube: KubeClient;
  readonly logger?: Logger;
  /** Watch the CSR (default) or read it by name. */
  readonly mode?: WaitMode;
  /** Called when a watch was refused (403) and the wait fell back to polling. */
  readonly onWatchForbidden?: () => void;
}

/** Decodes status.certificate (base64 of PEM) into a checked chain; ERR_KUBE_API when it is not one. */
export function decodeIssuedChain(csr: CsrObject): string {
  const name = csr.metadata.name;
  const raw = csr.status.certificate ?? '';
  const apiError = (problem: string, cause?: unknown): AttestorError =>
    new AttestorError('ERR_KUBE_API', `CSR ${name}: ${problem}`, {
      ...(cause === undefined ? {} : { cause }),
      details: { csrName: name },
    });
  // Like client-go, other blocks and text around them are skipped; the signer writes none.
  const r = parsePemBundle(Buffer.from(raw, 'base64'));
  if (r.ok) return r.value.map((c) => `${c.block.text}\n`).join('');
  const p = r.problem;
  switch (p.kind) {
    case 'no-certificate':
      throw apiError('status.certificate holds no PEM certificate');
    case 'unparsable':
      throw apiError(`certificate #${p.certificate} in status.certificate does not parse`, p.cause);
    case 'mismatched-end':
      throw apiError(
        `PEM block #${p.block} in status.certificate begins ${JSON.stringify(p.begin)} but ends ${JSON.stringify(p.end)}`,
      );
    case 'too-large':
    case 'certificate-too-large':
      throw apiError(`status.certificate ${sizeProblemText(p)}`);
  }
}

function terminal(csr: CsrObject): void {
  const name = csr.metadata.name;
  for (const [type, code, verb] of [
    ['Denied', 'ERR_CSR_DENIED', 'was denied'],
    ['Failed', 'ERR_CSR_FAILED', 'failed'],
  ] as const) {
    const c = csrCondition(csr, type);
    if (c === undefined) continue;
    const reason = c.reason ?? '';
    const message = oneLine(c.message ?? '');
    const why = [reason, message].filter((s) => s !== '').join(': ');
    throw new AttestorError(code, `CSR ${name} ${verb}${why === '' ? '' : `: ${why}`}`, {
      details: { csrName: name, reason, message },
    });
  }
}

export async function waitForCertificate(
  deps: WaitDeps,
  name: string,
  fromResourceVersion: string,
  opts: WaitForCertificateOptions,
): Promise<CertificateResult> {
  const now = deps.now ?? Date.now;
  const logger = (deps.logger ?? silentLogger).child({ csr: name });
  const mode = deps.mode ?? DEFAULT_WAIT_MODE;
  const initialBackoff = deps.initialBackoffMs ?? 250;
  const maxBackoff = deps.maxBackoffMs ?? 5000;
  const started = now();
  const userSignal = opts.signal;

  let phase: CsrProgress['phase'] | undefined;
  let lastError: AttestorError | undefined;
  let backoff = initialBackoff;

  const report = (p: CsrProgress['phase']): void => {
    if (p === phase) return;
    phase = p;
    logger.debug(`CSR ${p}`);
    try {
      opts.onProgress?.({ phase: p, csrName: name, elapsedMs: now() - started });
    } catch (err) {
      logger.debug('onProgress threw; ignored', { error: String(err) });
    }
  };

  const timeoutError = (): AttestorError => {
    const within = formatDuration(opts.deadline - started);
    const last = lastError === undefined ? '' : ` (last error: ${lastError.message})`;
    const message =
      phase === 'approved'
        ? `CSR ${name} was approved but not signed within ${within}${last}; check that kube-controller-manager runs the csrsigning controller for this signer`
        : `CSR ${name} was not approved within ${within}${last}; approve it with: kubectl certificate approve ${name}`;
    return new AttestorError('ERR_TIMEOUT', message, {
      ...(lastError === undefined ? {} : { cause: lastError }),
      details: {
        csrName: name,
        phase: phase ?? 'pending',
        timeoutMs: opts.deadline - started,
        ...(lastError === undefined ? {} : { lastErrorCode: lastError.code }),
      },
    });
  };

  // One signal for everything below: the caller's, or our deadline.
  const ctl = new AbortController();
  const isStopped = (): boolean => ctl.signal.aborted || now() >= opts.deadline;
  const stopped = (): AttestorError =>
    userSignal?.aborted === true ? abortError(userSignal, `waiting for CSR ${name}`) : timeoutError();
  const onUserAbort = (): void => {
    ctl.abort(userSignal?.reason);
  };
  if (userSignal?.aborted === true) throw stopped();
  userSignal?.addEventListener('abort', onUserAbort, { once: true });
  const deadlineTimer = setTimeout(
    () => {
      ctl.abort(new Error('deadline'));
    },
    Math.max(0, opts.deadline - now()),
  );

  const sleepMs = async (ms: number): Promise<void> => {
    try {
      await sleep(Math.min(ms, Math.max(0, opts.deadline - now())), ctl.signal, 'wait');
    } catch {
      throw stopped();
    }
  };
  const backOff = async (): Promise<void> => {
    await sleepMs(backoff);
    backoff = Math.min(backoff * 2, maxBackoff);
  };

  const session: WaitSession = {
    name,
    kube: deps.kube,
    logger,
    signal: ctl.signal,
    deadline: opts.deadline,
    now,
    isStopped,
    stopped,
    evaluate: (csr) => {
      terminal(csr);
      if (csrCondition(csr, 'Approved') === undefined) return undefined;
      if ((csr.status.certificate ?? '') !== '') return { certificateChainPem: decodeIssuedChain(csr), csr };
      report('approved');
      return undefined;
    },
    sleep: sleepMs,
    backOff,
    retryAfter: async (err) => {
      if (isStopped()) throw stopped();
      if (!isTransient(err)) throw err;
      lastError = err as AttestorError;
      logger.debug('transient error while waiting; retrying', {
        error: lastError.message,
        backoffMs: backoff,
      });
      await backOff();
    },
    recovered: () => {
      lastError = undefined;
      backoff = initialBackoff;
    },
  };
  const poll = (): Promise<CertificateResult> =>
    pollForCertificate(session, {
      initialMs: deps.pollInitialMs ?? POLL_INITIAL_MS,
      maxMs: deps.pollMaxMs ?? POLL_MAX_MS,
    });

  report('pending');
  try {
    if (mode === 'poll') return await poll();
    const watched = await watchForCertificate(session, fromResourceVersion, {
      maxWatchSeconds: deps.maxWatchSeconds ?? 300,
      quickEndMs: deps.quickEndMs ?? 1000,
    });
    if (!('forbidden' in watched)) return watched;
    // The narrow role (create + get) grants no watch. Polling needs only get, which the role
    // must grant anyway, so nothing is widened: the node keeps working while its operator
    // tightens RBAC, and wait mode poll skips this refused request.
    logger.info(
      'the Kubernetes API server refused to watch the CSR (HTTP 403); waiting by reading it by name instead (set the wait mode to poll to skip the watch)',
      { error: watched.forbidden.message },
    );
    deps.onWatchForbidden?.();
    return await poll();
  } finally {
    clearTimeout(deadlineTimer);
    userSignal?.removeEventListener('abort', onUserAbort);
  }
}

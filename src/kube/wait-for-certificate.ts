/**
 * Waits until a CSR is approved and signed, and returns the certificate chain. This is where the
 * 2018 prototype hung or lied, so every way out is explicit:
 *
 * - the watch starts at the create resourceVersion: an approval that landed before the watch
 *   connected is replayed, not missed;
 * - Denied / Failed / DELETED end the wait with ERR_CSR_DENIED / ERR_CSR_FAILED / ERR_CSR_DELETED;
 * - Approved without a certificate keeps waiting (the signer has not run yet);
 * - a watch that ends (server timeout, proxy) is resumed from the last resourceVersion seen;
 *   `410 Gone` (too old) re-reads the CSR, evaluates it (it may be done), and re-watches from it;
 * - network trouble and 5xx/429 are retried with backoff until the deadline;
 * - the deadline is ERR_TIMEOUT, saying how to approve by hand;
 * - only a non-empty, parseable PEM chain is ever returned.
 */
import { AttestorError } from '../errors.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { abortError, sleep } from './abort.js';
import { csrCondition, getCsr, type CsrObject } from './csr-api.js';
import type { KubeClient } from './http.js';
import { isTransient, oneLine } from './kube-errors.js';
import { watchCsr } from './watch.js';
import { formatDuration } from '../util/duration.js';
import { parsePemBundle, sizeProblemText } from '../x509/pem.js';

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

export interface CertificateResult {
  /** The issued chain as PEM, leaf first, each block newline-terminated. */
  readonly certificateChainPem: string;
  readonly csr: CsrObject;
}

export interface WaitTuning {
  /** Longest single watch (server-side timeoutSeconds). Default 300. */
  readonly maxWatchSeconds?: number;
  /** Backoff after a failure or an empty, immediately ended watch. Defaults 250 ms doubling to 5 s. */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A watch that ends sooner than this without any event counts as "ended immediately". */
  readonly quickEndMs?: number;
  readonly now?: () => number;
}

export interface WaitDeps extends WaitTuning {
  readonly kube: KubeClient;
  readonly logger?: Logger;
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

const isGone = (err: unknown): boolean =>
  err instanceof AttestorError && err.code === 'ERR_KUBE_API' && err.details.status === 410;

export async function waitForCertificate(
  deps: WaitDeps,
  name: string,
  fromResourceVersion: string,
  opts: WaitForCertificateOptions,
): Promise<CertificateResult> {
  const now = deps.now ?? Date.now;
  const logger = (deps.logger ?? silentLogger).child({ csr: name });
  const maxWatchSeconds = deps.maxWatchSeconds ?? 300;
  const initialBackoff = deps.initialBackoffMs ?? 250;
  const maxBackoff = deps.maxBackoffMs ?? 5000;
  const quickEndMs = deps.quickEndMs ?? 1000;
  const started = now();
  const userSignal = opts.signal;

  let rv = fromResourceVersion;
  let phase: CsrProgress['phase'] | undefined;
  let lastError: AttestorError | undefined;
  let backoff = initialBackoff;
  let resync = false;

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

  /** Done (the result), terminal (throws), or still waiting (undefined). */
  const evaluate = (csr: CsrObject): CertificateResult | undefined => {
    terminal(csr);
    if (csrCondition(csr, 'Approved') === undefined) return undefined;
    if ((csr.status.certificate ?? '') !== '') return { certificateChainPem: decodeIssuedChain(csr), csr };
    report('approved');
    return undefined;
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
  // A function, not a property read, so control-flow narrowing does not assume it stays false.
  const isStopped = (): boolean => ctl.signal.aborted;
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

  const pause = async (): Promise<void> => {
    try {
      await sleep(Math.min(backoff, Math.max(0, opts.deadline - now())), ctl.signal, 'wait');
    } catch {
      throw stopped();
    }
    backoff = Math.min(backoff * 2, maxBackoff);
  };

  report('pending');
  try {
    for (;;) {
      if (isStopped() || now() >= opts.deadline) throw stopped();
      try {
        if (resync) {
          let csr: CsrObject;
          try {
            csr = await getCsr(deps.kube, name, ctl.signal);
          } catch (err) {
            if (err instanceof AttestorError && err.details.status === 404)
              throw new AttestorError(
                'ERR_CSR_DELETED',
                `CSR ${name} was deleted while waiting for its certificate`,
                {
                  details: { csrName: name },
                },
              );
            throw err;
          }
          const done = evaluate(csr);
          if (done !== undefined) return done;
          rv = csr.metadata.resourceVersion;
          resync = false;
          logger.debug('re-read the CSR after 410 Gone', { resourceVersion: rv });
        }

        const watchStarted = now();
        let events = 0;
        const timeoutSeconds = Math.min(
          maxWatchSeconds,
          Math.max(1, Math.ceil((opts.deadline - now()) / 1000)),
        );
        logger.debug('watching', { resourceVersion: rv, timeoutSeconds });
        stream: for await (const ev of watchCsr(deps.kube, name, rv, {
          timeoutSeconds,
          signal: ctl.signal,
        })) {
          events++;
          switch (ev.type) {
            case 'ADDED':
            case 'MODIFIED': {
              // The field selector should make this impossible; never act on another CSR.
              if (ev.csr.metadata.name !== name) continue;
              rv = ev.csr.metadata.resourceVersion;
              const done = evaluate(ev.csr);
              if (done !== undefined) return done;
              lastError = undefined;
              break;
            }
            case 'BOOKMARK':
              rv = ev.resourceVersion;
              break;
            case 'DELETED':
              if (ev.csr.metadata.name !== name) continue;
              throw new AttestorError(
                'ERR_CSR_DELETED',
                `CSR ${name} was deleted while waiting for its certificate`,
                {
                  details: { csrName: name },
                },
              );
            case 'ERROR': {
              const st = ev.status;
              if (st.code === 410 || st.reason === 'Expired' || st.reason === 'Gone') {
                logger.debug('watch resourceVersion too old (410); re-reading', { resourceVersion: rv });
                resync = true;
                break stream;
              }
              throw new AttestorError(
                'ERR_KUBE_API',
                `watch of CSR ${name} failed: ${st.code ?? '?'} ${oneLine([st.reason, st.message].filter((s) => s !== undefined && s !== '').join(': '))}`.trim(),
                { details: { csrName: name, ...(st.code === undefined ? {} : { status: st.code }) } },
              );
            }
          }
        }
        if (resync) continue;
        // The stream ended (timeoutSeconds, a proxy, a restart): resume from where we were.
        if (events === 0 && now() - watchStarted < quickEndMs) {
          logger.debug('watch ended immediately; backing off', { backoffMs: backoff });
          await pause();
        } else {
          backoff = initialBackoff;
        }
      } catch (err) {
        if (isStopped()) throw stopped();
        if (isGone(err)) {
          resync = true;
          continue;
        }
        if (!isTransient(err)) throw err;
        lastError = err as AttestorError;
        logger.debug('transient error while waiting; retrying', {
          error: lastError.message,
          backoffMs: backoff,
        });
        await pause();
      }
    }
  } finally {
    clearTimeout(deadlineTimer);
    userSignal?.removeEventListener('abort', onUserAbort);
  }
}

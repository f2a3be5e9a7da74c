/**
 * What the two ways of waiting for a CSR (wait-watch.ts, wait-poll.ts) share, so that both end
 * the same way: the deadline and the caller's abort, Denied / Failed / deleted, the retry of
 * transient errors (network, 429, 5xx) and the timeout message. Built by waitForCertificate.
 */
import { AttestorError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { getCsr, type CsrObject } from './csr-api.js';
import type { KubeClient } from './http.js';

export interface CertificateResult {
  /** The issued chain as PEM, leaf first, each block newline-terminated. */
  readonly certificateChainPem: string;
  readonly csr: CsrObject;
}

export interface WaitSession {
  readonly name: string;
  readonly kube: KubeClient;
  readonly logger: Logger;
  /** Aborted by the caller's signal or at the deadline; pass it to every request. */
  readonly signal: AbortSignal;
  /** Epoch milliseconds. */
  readonly deadline: number;
  now(): number;
  /** Whether the wait is over (deadline or abort): then throw stopped(). */
  isStopped(): boolean;
  /** The error that ends a stopped wait: the caller's abort reason, or ERR_TIMEOUT. */
  stopped(): AttestorError;
  /** Done (the result), terminal (throws ERR_CSR_DENIED / ERR_CSR_FAILED), or still waiting (undefined). */
  evaluate(csr: CsrObject): CertificateResult | undefined;
  /** Sleeps `ms`, cut short at the deadline; throws stopped() when stopped. */
  sleep(ms: number): Promise<void>;
  /**
   * After a failed request: rethrows stopped() or a non-transient error; otherwise remembers the
   * error for the timeout message and sleeps the error backoff (doubling up to its maximum).
   */
  retryAfter(err: unknown): Promise<void>;
  /** Sleeps the error backoff and doubles it (a watch that keeps ending at once). */
  backOff(): Promise<void>;
  /** Progress was made: forget the last error and restart the error backoff. */
  recovered(): void;
}

export function deletedError(name: string): AttestorError {
  return new AttestorError('ERR_CSR_DELETED', `CSR ${name} was deleted while waiting for its certificate`, {
    details: { csrName: name },
  });
}

/** A 404 from the API server: the CSR is gone. */
export const isNotFound = (err: unknown): boolean =>
  err instanceof AttestorError && err.code === 'ERR_KUBE_API' && err.details.status === 404;

/**
 * Reads the CSR by name. Read after our own create, a 404 means it was deleted (not "not there
 * yet"); other errors are the caller's to retry.
 */
export async function readCsr(s: WaitSession): Promise<CsrObject> {
  try {
    return await getCsr(s.kube, s.name, s.signal);
  } catch (err) {
    if (isNotFound(err) && !s.isStopped()) throw deletedError(s.name);
    throw err;
  }
}

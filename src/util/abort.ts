import { AttestorError } from '../errors.js';

/**
 * The error for an operation stopped by the caller's AbortSignal. A reason that already is an
 * AttestorError is kept (callers can abort with exactly the error they want reported); an
 * AbortSignal.timeout() becomes ERR_TIMEOUT; any other cancellation is ERR_CANCELLED.
 */
export function abortError(signal: AbortSignal, what: string): AttestorError {
  const reason: unknown = signal.reason;
  if (reason instanceof AttestorError) return reason;
  const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
  return timedOut
    ? new AttestorError('ERR_TIMEOUT', `${what}: timed out`, { cause: reason })
    : new AttestorError('ERR_CANCELLED', `${what}: cancelled`, { cause: reason });
}

/** Resolves after `ms`, or rejects with abortError as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  if (signal === undefined) return new Promise((resolve) => setTimeout(resolve, ms));
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError(signal, what));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal, what));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

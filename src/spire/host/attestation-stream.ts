/**
 * What both NodeAttestor streams (the agent's AidAttestation, the server's Attest) do around
 * their own protocol: abort the attestor's work when the host cancels, keep the stream's own
 * error reports quiet, and end a failed call with the gRPC status for the error, logged with its
 * code and at a level that says whose problem it is.
 */
import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import { AttestorError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { statusName, toGrpcError } from './grpc-status.js';
import { StreamClosedError } from './stream-reader.js';

export interface AttestationStream {
  /** Aborted when the host cancels the call; a handler may abort it too when the host ends it. */
  readonly aborter: AbortController;
  /** Date.now() when the call began, for duration_ms. */
  readonly started: number;
  /**
   * Ends the call with the gRPC status for `err`, logged as `summary`: at error level for
   * INTERNAL and UNAVAILABLE (our bug, the cluster's trouble), at warn for the rest (the agent's
   * or the configuration's fault, which the host reports too).
   */
  readonly fail: (err: unknown, summary: string) => void;
  /**
   * Marks the call as answered: SPIRE cancels every stream once it has the result, and that
   * cancellation then has nothing left to abort (it costs an error object and an abort event per
   * attestation otherwise).
   */
  readonly answered: () => void;
}

/** Sets up `call` for `rpc` (the method name, for logs). */
export function openAttestationStream(
  call: ServerDuplexStream<unknown, unknown>,
  rpc: string,
  logger: Logger,
): AttestationStream {
  const aborter = new AbortController();
  let answered = false;
  call.on('cancelled', () => {
    if (!answered) aborter.abort(new StreamClosedError('attestation cancelled by the host'));
  });
  // Writes racing a cancellation fail on the destroyed stream; the call is over either way. The
  // error we emit ourselves to end the call is logged by fail(), not again here.
  let ending: Error | undefined;
  call.on('error', (err: Error) => {
    if (err !== ending) logger.debug(`${rpc} stream error`, { error: err.message });
  });
  const started = Date.now();
  return {
    aborter,
    started,
    fail: (err, summary) => {
      const e = toGrpcError(err, logger, rpc);
      const fields = {
        // The error's structured facts first (e.g. the full reason withheld from the caller),
        // so the standard fields below win on a name clash.
        ...(err instanceof AttestorError ? err.details : {}),
        code: err instanceof AttestorError ? err.code : 'ERR_INTERNAL',
        grpc_code: statusName(e.code),
        error: e.details,
        duration_ms: Date.now() - started,
      };
      if (e.code === status.INTERNAL || e.code === status.UNAVAILABLE) logger.error(summary, fields);
      else logger.warn(summary, fields);
      ending = e;
      call.emit('error', e);
    },
    answered: () => {
      answered = true;
    },
  };
}

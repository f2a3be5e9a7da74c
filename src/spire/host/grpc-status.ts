/**
 * Maps failures to the gRPC status the SPIRE host sees. The code matters to SPIRE:
 * PermissionDenied stops the agent at once, other codes make it retry for about a minute, and
 * the server relays the status (code and message) to the agent.
 */
import { Metadata, status } from '@grpc/grpc-js';
import { isAttestorError, type ErrorCode } from '../../errors.js';
import type { Logger } from '../../log/logger.js';

/** The status code for each error code; exhaustive so a new ErrorCode cannot be forgotten. */
export function grpcCodeFor(code: ErrorCode): status {
  switch (code) {
    case 'ERR_USAGE':
    case 'ERR_INPUT':
    case 'ERR_CONFIG':
    case 'ERR_PAYLOAD':
      return status.INVALID_ARGUMENT;
    case 'ERR_NOT_CONFIGURED':
    case 'ERR_CSR_FAILED':
    case 'ERR_UNSAFE_DIR': // an operator must fix or replace the directory; retrying cannot help
      return status.FAILED_PRECONDITION;
    case 'ERR_CHAIN':
    case 'ERR_PROFILE':
    case 'ERR_POP':
    case 'ERR_NODE':
    case 'ERR_CSR_DENIED':
      return status.PERMISSION_DENIED;
    case 'ERR_KUBE_UNREACHABLE':
    case 'ERR_KUBE_TLS':
    case 'ERR_KUBE_UNAUTHORIZED':
    case 'ERR_KUBE_CREDENTIALS':
    case 'ERR_KUBE_FORBIDDEN':
    case 'ERR_KUBE_API':
    case 'ERR_CSR_DELETED':
    case 'ERR_TIMEOUT':
      return status.UNAVAILABLE;
    case 'ERR_CHALLENGE_TIMEOUT':
      return status.DEADLINE_EXCEEDED;
    case 'ERR_TOO_MANY_CHALLENGES':
      // A limit of this plugin, not a failure of the cluster (UNAVAILABLE) or of the agent's
      // proof; spire-server's own rate limiter fails calls with RESOURCE_EXHAUSTED too.
      return status.RESOURCE_EXHAUSTED;
    case 'ERR_CANCELLED':
      // Normally the host cancelled and sees no status at all; otherwise a retryable outcome.
      return status.CANCELLED;
    case 'ERR_CERT_MISMATCH':
    case 'ERR_IO':
    case 'ERR_INTERNAL':
      return status.INTERNAL;
  }
}

/** The name of a status code, e.g. "PERMISSION_DENIED", for log fields. */
export function statusName(code: status): string {
  return status[code];
}

/** What grpc-js accepts as an error for a unary callback or a stream's 'error' event. */
export interface GrpcError extends Error {
  readonly code: status;
  readonly details: string;
  readonly metadata: Metadata;
}

export function grpcError(code: status, details: string): GrpcError {
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}

/** Message for anything that is not an AttestorError: the detail goes to the log only. */
export const GENERIC_INTERNAL_MESSAGE = 'internal plugin error (details are in the plugin log)';

/**
 * The gRPC error for anything thrown. AttestorErrors keep their message (it names the reason);
 * anything else is a bug whose detail is logged here, never sent (no stack traces on the wire).
 */
export function toGrpcError(err: unknown, logger: Logger, context: string): GrpcError {
  if (isAttestorError(err)) return grpcError(grpcCodeFor(err.code), err.message);
  const detail = err instanceof Error ? err.message : String(err);
  logger.error(`${context}: unexpected error`, {
    error: detail,
    stack: err instanceof Error ? err.stack : undefined,
  });
  return grpcError(status.INTERNAL, GENERIC_INTERNAL_MESSAGE);
}

/**
 * The one error root of node-attestor. Every failure a user or a SPIRE host can see carries a
 * stable `code`: the CLI maps codes to exit codes (src/cli/kit/exit-codes.ts) and the plugins map
 * them to gRPC status codes (src/spire/host/grpc-status.ts). Both mappings switch exhaustively, so a
 * new code cannot ship without a decision for each.
 */
export type ErrorCode =
  /** Bad command-line usage: unknown flag, missing value, invalid flag value. */
  | 'ERR_USAGE'
  /** An input file or value is missing, unreadable or malformed; the message names it. */
  | 'ERR_INPUT'
  /** Plugin configuration is invalid; the message names the key. */
  | 'ERR_CONFIG'
  /** A plugin RPC arrived before a successful Configure. */
  | 'ERR_NOT_CONFIGURED'
  /** The Kubernetes API server could not be reached (refused, DNS, connect timeout, reset). */
  | 'ERR_KUBE_UNREACHABLE'
  /** TLS with the API server failed: its certificate is not trusted by the given CA, or the handshake failed. */
  | 'ERR_KUBE_TLS'
  /** The API server did not accept the credentials (HTTP 401). */
  | 'ERR_KUBE_UNAUTHORIZED'
  /** The kubeconfig's exec credential plugin gave no credentials (not found, failed, timed out, bad output). */
  | 'ERR_KUBE_CREDENTIALS'
  /** The API server refused the request by RBAC/admission (HTTP 403). */
  | 'ERR_KUBE_FORBIDDEN'
  /** Any other unexpected API answer (HTTP 4xx/5xx, a malformed body). */
  | 'ERR_KUBE_API'
  /** The CertificateSigningRequest was denied; details.reason/message say why. */
  | 'ERR_CSR_DENIED'
  /** The signer marked the CSR Failed; details.reason/message say why. */
  | 'ERR_CSR_FAILED'
  /** The CSR was deleted while we waited for it. */
  | 'ERR_CSR_DELETED'
  /** A deadline passed (approval timeout). */
  | 'ERR_TIMEOUT'
  /** The issued certificate does not match our key or the requested subject. */
  | 'ERR_CERT_MISMATCH'
  /** Reading or writing local files failed (identity directory, temp files). */
  | 'ERR_IO'
  /**
   * The identity directory, or a directory above it, could be changed by another user (a
   * symbolic link, another owner, a parent others may write): refused before anything is written.
   */
  | 'ERR_UNSAFE_DIR'
  /** A malformed attestation payload, challenge or challenge response. */
  | 'ERR_PAYLOAD'
  /** The certificate chain does not verify to the configured CA bundle. */
  | 'ERR_CHAIN'
  /** The certificate is not exactly a Kubernetes node client certificate. */
  | 'ERR_PROFILE'
  /** Proof of possession of the private key failed (bad signature, replayed or mismatched nonce). */
  | 'ERR_POP'
  /** The node named by the certificate failed verification against the cluster (missing, being deleted, address mismatch). */
  | 'ERR_NODE'
  /** The agent did not answer the attestation challenge within challenge_timeout. */
  | 'ERR_CHALLENGE_TIMEOUT'
  /** More attestations wait for their agents' challenge responses than max_pending_challenges allows. */
  | 'ERR_TOO_MANY_CHALLENGES'
  /** The operation was cancelled (SIGINT/SIGTERM, or the caller's AbortSignal). */
  | 'ERR_CANCELLED'
  /** A bug or an unexpected state; never a user error. */
  | 'ERR_INTERNAL';

export type ErrorDetails = Readonly<Record<string, string | number | boolean>>;

export interface AttestorErrorOptions {
  readonly cause?: unknown;
  /** Structured facts for --output json and logs. Never put secrets here. */
  readonly details?: ErrorDetails;
}

export class AttestorError extends Error {
  override readonly name = 'AttestorError';
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: AttestorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }
}

export function isAttestorError(err: unknown, code?: ErrorCode): err is AttestorError {
  return err instanceof AttestorError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into an AttestorError, keeping AttestorErrors as they are. */
export function toAttestorError(err: unknown, fallback: ErrorCode = 'ERR_INTERNAL'): AttestorError {
  if (err instanceof AttestorError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AttestorError(fallback, message, { cause: err });
}

/**
 * What a refusal tells a caller who has not proved possession of the certificate's key. SPIRE
 * relays a plugin's message to the agent verbatim, and until the signature has verified, the
 * caller may be anyone with a copy of a node's certificate (it is public: it travels in every
 * payload). So the message says which check failed and nothing about this server's clusters —
 * their names, CA bundles, caps. The full message goes to the plugin's log (in spire-server's log)
 * as details.detail.
 */
import { AttestorError, type ErrorCode } from '../../../errors.js';

/** The message for `code` before proof of possession, or undefined to keep the original. */
function publicMessage(err: AttestorError): string | undefined {
  const code: ErrorCode = err.code;
  switch (code) {
    // About the caller's own input, its own certificate or its own stream: nothing to withhold.
    case 'ERR_PAYLOAD':
    case 'ERR_INPUT':
    case 'ERR_POP':
    case 'ERR_CHALLENGE_TIMEOUT':
    case 'ERR_TOO_MANY_CHALLENGES':
    case 'ERR_NOT_CONFIGURED':
    case 'ERR_CANCELLED':
      return undefined;
    case 'ERR_PROFILE':
      // The node-client profile is about the caller's certificate; the caps are this server's.
      if (err.details.check === 'max-certificate-lifetime')
        return "certificate lifetime exceeds the cluster's max_certificate_lifetime";
      if (err.details.check === 'max-certificate-age')
        return "certificate was issued longer ago than the cluster's max_certificate_age";
      return undefined;
    case 'ERR_CHAIN':
      // Which clusters exist, which one the chain almost matched, and the bundle's CAs stay here.
      return 'certificate chain does not verify to the CA bundle of a cluster this server attests';
    case 'ERR_NODE':
      return 'the node named by the certificate failed verification';
    case 'ERR_CONFIG':
    case 'ERR_USAGE':
    case 'ERR_KUBE_UNREACHABLE':
    case 'ERR_KUBE_TLS':
    case 'ERR_KUBE_UNAUTHORIZED':
    case 'ERR_KUBE_FORBIDDEN':
    case 'ERR_KUBE_API':
    case 'ERR_KUBE_CREDENTIALS':
    case 'ERR_CSR_DENIED':
    case 'ERR_CSR_FAILED':
    case 'ERR_CSR_DELETED':
    case 'ERR_TIMEOUT':
    case 'ERR_CERT_MISMATCH':
    case 'ERR_IO':
    case 'ERR_UNSAFE_DIR':
    case 'ERR_INTERNAL':
      return 'attestation failed on the server (details are in the spire-server log)';
  }
}

/** `err` as the caller may see it; the original message kept in details.detail for the log. */
export function forUnprovenCaller(err: unknown): unknown {
  if (!(err instanceof AttestorError)) return err;
  const message = publicMessage(err);
  if (message === undefined || message === err.message) return err;
  return new AttestorError(err.code, message, {
    cause: err,
    details: { ...err.details, detail: err.message },
  });
}

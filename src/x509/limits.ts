/**
 * The size limits on certificate material, one home for each. Every reader checks its limit
 * before it parses anything, so a huge input costs a length comparison, not a parse.
 *
 * The figures leave wide room above what is legitimate: a distribution's bundle of every public
 * root CA is ~220 KB of PEM (144 certificates, the largest 2 KB of DER); a kubelet client
 * certificate is under 1 KiB; a node client CSR, even with an RSA-8192 key, is under 3 KiB of
 * base64.
 */

/** Largest PEM text read anywhere: CA bundles (-ca-cert, ca_bundle_path, kubeconfig data), keys, chains. */
export const MAX_PEM_BYTES = 4 * 1024 * 1024;

/** Largest DER encoding of one certificate: in a PEM block or in an attestation payload. */
export const MAX_CERTIFICATE_DER_BYTES = 16 * 1024;

/** Largest CSR spec.request (base64 of the PEM text, as the API object holds it) the approver decides on. */
export const MAX_CSR_REQUEST_BYTES = 16 * 1024;

/** A limit for messages: "4 MiB", "16 KiB", or bytes when it is not a whole number of either. */
export function formatLimit(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

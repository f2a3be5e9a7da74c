/**
 * Everything the server plugin needs to verify attestations, behind one module that
 * k8s-csr-server.ts imports lazily, once Configure arrives rather than before the go-plugin
 * handshake. @peculiar/x509 and its ASN.1 stack are loaded later still, only for a certificate
 * outside the fast path: run the readers through withCertificateReader.
 */
export {
  beginAttestation,
  type PendingAttestation,
  type ProvenAttestation,
} from '../../../attestation/verify-attestation.js';
export { withCertificateReader } from '../../../attestation/chain/certificate.js';
export { loadServerConfig, type ServerConfig } from './config.js';
export { checkCertificateAge } from './certificate-age.js';
export { checkNodeAddress } from './address-binding.js';
export { allowedLabels, lookupNode } from './node-lookup.js';
export { forUnprovenCaller } from './unproven-caller.js';

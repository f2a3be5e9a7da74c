/**
 * Everything the server plugin needs to verify attestations, behind one module that
 * k8s-csr-server.ts imports lazily: it pulls in @peculiar/x509 and its ASN.1 stack (about half
 * of the plugin's start-up time), which SPIRE only needs once Configure arrives, not before the
 * go-plugin handshake.
 */
export { beginAttestation } from '../../attestation/verify-attestation.js';
export { loadServerConfig, type ServerConfig } from './config.js';
export { checkCertificateAge } from './certificate-age.js';
export { checkNodeAddress } from './address-binding.js';
export { allowedLabels, lookupNode } from './node-lookup.js';

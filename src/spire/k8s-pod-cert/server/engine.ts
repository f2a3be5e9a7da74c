/**
 * Everything the k8s_pod_cert server plugin needs to verify attestations, behind one module that
 * k8s-pod-cert-server.ts imports lazily, once Configure arrives rather than before the go-plugin
 * handshake (as k8s_csr's engine.ts).
 */
export { beginAttestation } from '../../../attestation/verify-attestation.js';
export { withCertificateReader } from '../../../attestation/chain/certificate.js';
export { loadPodCertServerConfig } from './config.js';
export { verifyNodeUid, verifyPod } from './pod-lookup.js';
export { allowedLabels } from '../../k8s-csr/server/node-lookup.js';
export { forUnprovenCaller } from '../../k8s-csr/server/unproven-caller.js';

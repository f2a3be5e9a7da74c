/**
 * The PKCS#10 request for a node client certificate, shaped exactly as kube-controller-manager's
 * nodeclient recogniser and the kube-apiserver-client-kubelet signer require (see profile.ts).
 */
import type { webcrypto } from 'node:crypto';
import { csrSigningAlgorithm } from './keys.js';
import type { KeyType } from './keys.js';
import { NODE_ORGANIZATION, nodeCommonName, validateNodeName } from './profile.js';
import { loadX509 } from '../x509/load-peculiar.js';

export interface NodeCsrParams {
  readonly nodeName: string;
  readonly keyType: KeyType;
  readonly keyPair: webcrypto.CryptoKeyPair;
}

/**
 * Builds and signs the request; returns its `CERTIFICATE REQUEST` PEM. The subject is the
 * structured name O=system:nodes, CN=system:node:<name> in that order (what Go's pkix.Name
 * encodes, so the issued certificate reads the same), with no extensions: the signer rejects SANs.
 */
export async function buildNodeCsr(params: NodeCsrParams): Promise<string> {
  const nodeName = validateNodeName(params.nodeName, 'node name');
  const x509 = await loadX509();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ O: [NODE_ORGANIZATION] }, { CN: [nodeCommonName(nodeName)] }],
    keys: params.keyPair,
    signingAlgorithm: csrSigningAlgorithm(params.keyType),
  });
  return `${csr.toString('pem')}\n`;
}

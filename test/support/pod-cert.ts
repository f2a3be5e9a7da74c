/**
 * Pod-certificate fixtures for the signer, the profile check and the k8s_pod_cert tests (unit and
 * end-to-end): the signer name, one pod's identity as the signer puts it in a certificate, and
 * stub PKCS#10 requests as the kubelet makes them.
 */
import 'reflect-metadata';
import type { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { PodIdentity } from '../../src/pod-cert/identity.js';
import { generateTestKey, type TestKey, type TestKeyAlg } from './pki.js';

export const TEST_SIGNER = 'node-attestor.spiffe.io/spire-agent';

export const TEST_POD_IDENTITY: PodIdentity = {
  signerName: TEST_SIGNER,
  nodeName: 'node-a',
  nodeUID: 'node-uid-1',
  namespace: 'spire',
  podName: 'agent-a',
  podUID: 'pod-uid-1',
  serviceAccountName: 'spire-agent',
  serviceAccountUID: 'sa-uid-1',
};

const SIGNING: Record<string, webcrypto.Algorithm | webcrypto.EcdsaParams> = {
  'ecdsa-p256': { name: 'ECDSA', hash: 'SHA-256' },
  'ecdsa-p384': { name: 'ECDSA', hash: 'SHA-384' },
  'rsa-2048': { name: 'RSASSA-PKCS1-v1_5' },
  ed25519: { name: 'Ed25519' },
};

/** A stub PKCS#10 request as the kubelet makes it (empty subject), base64 DER, and its key. */
export async function stubRequest(alg: TestKeyAlg = 'ecdsa-p256'): Promise<{ b64: string; key: TestKey }> {
  const key = await generateTestKey(alg);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: '',
    keys: key.keys,
    signingAlgorithm: SIGNING[alg] ?? { name: 'ECDSA', hash: 'SHA-256' },
  });
  return { b64: Buffer.from(csr.rawData).toString('base64'), key };
}

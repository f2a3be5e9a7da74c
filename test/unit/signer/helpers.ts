/** Shared set-up for the signer tests: stub PKCS#10 requests and PodCertificateRequest objects. */
import 'reflect-metadata';
import { randomUUID, type webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { generateTestKey, type TestKey, type TestKeyAlg } from '../../support/pki.js';
import type { PcrEntry } from '../../../src/signer/pcr-api.js';
import { parsePcrObject } from '../../../src/signer/pcr-api.js';
import { TEST_SIGNER } from '../../support/pod-identity.js';

export const SIGNER = TEST_SIGNER;

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

export interface PcrShape {
  readonly namespace?: string;
  readonly name?: string;
  readonly serviceAccountName?: string;
  readonly nodeName?: string;
  readonly nodeUID?: string;
  readonly podUID?: string;
  readonly maxExpirationSeconds?: number;
  readonly stub: string;
  readonly annotations?: Record<string, string>;
  readonly status?: Record<string, unknown>;
  readonly resourceVersion?: string;
}

export function pcrRaw(s: PcrShape): Record<string, unknown> {
  return {
    metadata: {
      name: s.name ?? 'agent-a-xyz',
      namespace: s.namespace ?? 'spire',
      uid: randomUUID(),
      resourceVersion: s.resourceVersion ?? '10',
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    },
    spec: {
      signerName: SIGNER,
      podName: 'agent-a',
      podUID: s.podUID ?? 'pod-uid-1',
      serviceAccountName: s.serviceAccountName ?? 'spire-agent',
      serviceAccountUID: 'sa-uid-1',
      nodeName: s.nodeName ?? 'node-a',
      nodeUID: s.nodeUID ?? 'node-uid-1',
      maxExpirationSeconds: s.maxExpirationSeconds ?? 86_400,
      stubPKCS10Request: s.stub,
      ...(s.annotations === undefined ? {} : { unverifiedUserAnnotations: s.annotations }),
    },
    ...(s.status === undefined ? {} : { status: s.status }),
  };
}

export function pcrEntry(s: PcrShape): PcrEntry {
  const raw = pcrRaw(s);
  return { pcr: parsePcrObject(raw), raw };
}

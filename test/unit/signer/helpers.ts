/** Shared set-up for the signer tests: stub PKCS#10 requests and PodCertificateRequest objects. */
import { randomUUID } from 'node:crypto';
import type { PcrEntry } from '../../../src/signer/pcr-api.js';
import { parsePcrObject } from '../../../src/signer/pcr-api.js';
import { TEST_SIGNER as SIGNER } from '../../support/pod-cert.js';

export { SIGNER };
export { stubRequest } from '../../support/pod-cert.js';

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

/**
 * What the signer's e2e test and benchmark share: Pods that mount a podCertificate volume (the
 * NodeRestriction admission plugin lets a node ask only for such pods), stub PKCS#10 requests
 * as the kubelet makes them, and PodCertificateRequests created with a node's credential.
 */
import { readFileSync } from 'node:fs';
import type { ControlPlane } from '../../harness/control-plane.js';
import type { UserCredential } from '../../harness/cluster-pki.js';
import { httpRequestText, type HttpResult } from '../../harness/http-request.js';
import { TEST_SIGNER as SIGNER } from '../../support/pod-cert.js';

export { SIGNER };
export { stubRequest } from '../../support/pod-cert.js';
export const PCRS = (ns: string): string =>
  `/apis/certificates.k8s.io/v1/namespaces/${ns}/podcertificaterequests`;

/** A `pod-cert` volume with SIGNER's podCertificate source, as the kit's agent DaemonSet mounts. */
export function podCertVolume(): Record<string, unknown> {
  return {
    name: 'pod-cert',
    projected: {
      sources: [
        {
          podCertificate: {
            signerName: SIGNER,
            keyType: 'ECDSAP256',
            credentialBundlePath: 'credentialbundle.pem',
          },
        },
      ],
    },
  };
}

/** A Pod bound to `node` (it never runs) that mounts a podCertificate volume of SIGNER. */
export function podWithPodCertVolume(name: string, node: string, sa: string): Record<string, unknown> {
  return {
    metadata: { name, labels: { app: name } },
    spec: {
      nodeName: node,
      serviceAccountName: sa,
      automountServiceAccountToken: false,
      volumes: [podCertVolume()],
      containers: [
        {
          name: 'c',
          image: 'localhost/never-pulled:1',
          volumeMounts: [{ name: 'pod-cert', mountPath: '/var/run/secrets/node-attestor/pod-cert' }],
        },
      ],
    },
  };
}

export interface PcrFacts {
  readonly namespace: string;
  readonly pod: string;
  readonly podUID: string;
  readonly sa: string;
  readonly saUID: string;
  readonly node: string;
  readonly nodeUID: string;
  readonly stubB64: string;
  readonly maxExpirationSeconds?: number;
}

/** Creates a PodCertificateRequest with `cred` (a node's client certificate), as the kubelet does. */
export function createPcrAs(cp: ControlPlane, cred: UserCredential, f: PcrFacts): Promise<HttpResult> {
  return httpRequestText(new URL(PCRS(f.namespace), cp.server), {
    method: 'POST',
    tls: {
      ca: readFileSync(cp.pki.caCertPath),
      cert: readFileSync(cred.certPath),
      key: readFileSync(cred.keyPath),
    },
    body: {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'PodCertificateRequest',
      metadata: { generateName: `${f.pod}-` },
      spec: {
        signerName: SIGNER,
        podName: f.pod,
        podUID: f.podUID,
        serviceAccountName: f.sa,
        serviceAccountUID: f.saUID,
        nodeName: f.node,
        nodeUID: f.nodeUID,
        maxExpirationSeconds: f.maxExpirationSeconds ?? 3600,
        stubPKCS10Request: f.stubB64,
      },
    },
  });
}

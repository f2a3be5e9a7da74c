/**
 * The kit's pod-certificate variant (the component deploy/pod-cert/) on a harness cluster: the
 * kit's local overlay (deploy-kit.ts, everything our cluster lacks) with the component added and
 * the signer's image never pulled. The component's agent patch targets every DaemonSet labelled
 * app.kubernetes.io/name=spire-agent, so it reaches the overlay's per-node copies too.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { KIT_DIR, KIT_NAMESPACE, writeLocalOverlay, type LocalKitOptions } from './deploy-kit.js';

export const POD_CERT_COMPONENT_DIR = join(KIT_DIR, 'pod-cert');
/** What the component's signer Deployment, Secret and ConfigMap are called (deploy/pod-cert/). */
export const SIGNER_DEPLOYMENT = 'node-attestor-signer';
export const SIGNER_CA_SECRET = 'node-attestor-signer-ca';
export const SIGNER_CA_BUNDLE_CONFIGMAP = 'node-attestor-signer-ca-bundle';

function insertBefore(text: string, marker: string, add: string): string {
  const i = text.indexOf(marker);
  if (i < 0) throw new Error(`the kit's local overlay changed: no "${marker.trim()}"`);
  return text.slice(0, i) + add + text.slice(i);
}

/** Writes the overlay (kit + deploy/pod-cert); `kubectl apply -k <returned dir>` applies it. */
export function writeLocalPodCertOverlay(o: Omit<LocalKitOptions, 'nodeAttestor'>): string {
  const dir = writeLocalOverlay({ ...o, nodeAttestor: 'k8s_csr' });
  const file = join(dir, 'kustomization.yaml');
  let k = readFileSync(file, 'utf8');
  k = insertBefore(k, 'configMapGenerator:\n', `components:\n  - ${relative(dir, POD_CERT_COMPONENT_DIR)}\n`);
  k = insertBefore(
    k,
    '\nimages:\n',
    `
  - target:
      kind: Deployment
      name: ${SIGNER_DEPLOYMENT}
    patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: ${SIGNER_DEPLOYMENT}
        namespace: ${KIT_NAMESPACE}
      spec:
        template:
          spec:
            containers:
              - name: signer
                imagePullPolicy: Never`,
  );
  writeFileSync(file, k);
  return dir;
}

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

export interface LocalPodCertOptions extends Omit<LocalKitOptions, 'nodeAttestor'> {
  /** Appended to the signer's arguments (e.g. -refresh-after=10m for a rotation in minutes). */
  readonly signerArgs?: readonly string[];
  /** spire-server's agent_ttl (e.g. 2m: agents rotate, and so re-attest, every minute). */
  readonly agentTtl?: string;
}

/** Writes the overlay (kit + deploy/pod-cert); `kubectl apply -k <returned dir>` applies it. */
export function writeLocalPodCertOverlay(o: LocalPodCertOptions): string {
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
  if (o.agentTtl !== undefined) {
    const conf = readFileSync(join(POD_CERT_COMPONENT_DIR, 'server.conf'), 'utf8');
    if (!conf.includes('\nserver {\n'))
      throw new Error('deploy/pod-cert/server.conf changed: no server block');
    writeFileSync(
      join(dir, 'server.conf'),
      conf.replace('\nserver {\n', `\nserver {\n  agent_ttl = ${JSON.stringify(o.agentTtl)}\n`),
    );
    // Its own ConfigMap: the component's replace of spire-server would win over this overlay's.
    k = insertBefore(
      k,
      '\npatches:\n',
      `\n  - name: spire-server-local\n    namespace: ${KIT_NAMESPACE}\n    files:\n      - server.conf`,
    );
    k = insertBefore(
      k,
      '\nimages:\n',
      `
  - target:
      kind: StatefulSet
      name: spire-server
    patch: |-
      apiVersion: apps/v1
      kind: StatefulSet
      metadata:
        name: spire-server
        namespace: ${KIT_NAMESPACE}
      spec:
        template:
          spec:
            volumes:
              - name: config
                configMap:
                  name: spire-server-local`,
    );
  }
  if (o.signerArgs !== undefined && o.signerArgs.length > 0)
    k = insertBefore(
      k,
      '\nimages:\n',
      `
  - target:
      kind: Deployment
      name: ${SIGNER_DEPLOYMENT}
    patch: |-
${o.signerArgs
  .map(
    (a) => `      - op: add
        path: /spec/template/spec/containers/0/args/-
        value: ${JSON.stringify(a)}`,
  )
  .join('\n')}`,
    );
  writeFileSync(file, k);
  return dir;
}

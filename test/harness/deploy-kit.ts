/**
 * The local overlay of the deployment kit (deploy/) for a harness cluster, written at test time
 * because its ports and node names are dynamic. Everything that is not local-only stays in the
 * base; this overlay changes only what our cluster lacks:
 *
 * - No cluster DNS and no kube-proxy: Service names do not resolve and ClusterIPs do not route
 *   (only the `kubernetes` Service is forwarded). So spire-server runs on the host network at a
 *   free port and the agents (host network too, as in the base) dial 127.0.0.1:<that port>.
 * - No storage provisioner, and a cluster that lives minutes: the server's data on an emptyDir.
 * - All nodes share the host's network namespace, so each kubelet has its own port, and one
 *   DaemonSet cannot name "my node's kubelet" with one kubelet_secure_port: one agent DaemonSet
 *   per node (node selector + its KUBELET_PORT), copies of the base's.
 * - Images imported into each node's containerd and never pulled: imagePullPolicy Never (a missing
 *   import then fails as ErrImageNeverPull instead of asking a registry).
 * - plugin_checksum: the sha256 the build wrote next to the executable the images carry.
 * - The kubelets' serving certificates are signed by the cluster CA (node.ts), so the workload
 *   attestor verifies them (the base does not: self-signed ones are the common case).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from './bins.js';

export const KIT_DIR = join(REPO_ROOT, 'deploy');
export const KIT_NAMESPACE = 'spire';
/** The Workload API socket on each node (deploy/agent/agent.conf). */
export const KIT_SOCKET = '/run/spire/agent-sockets/spire-agent.sock';

/** kubectl arguments: spire-server's CLI inside the kit's server pod, with `args`. */
export function serverCliArgs(args: readonly string[]): string[] {
  return [
    'exec',
    '-n',
    KIT_NAMESPACE,
    'spire-server-0',
    '-c',
    'spire-server',
    '--',
    '/opt/spire/bin/spire-server',
    ...args,
  ];
}

/** `spire-server entry create` arguments for the workload pod's entry (k8s:ns + k8s:sa selectors). */
export function workloadEntryArgs(parentId: string, spiffeId: string): string[] {
  return [
    'entry',
    'create',
    '-parentID',
    parentId,
    '-spiffeID',
    spiffeId,
    '-selector',
    'k8s:ns:default',
    '-selector',
    'k8s:sa:workload',
  ];
}

/** kubectl arguments: `spire-agent api fetch x509` inside the workload pod `name`. */
export function workloadFetchArgs(name: string): string[] {
  return [
    'exec',
    '-n',
    'default',
    name,
    '--',
    '/opt/spire/bin/spire-agent',
    'api',
    'fetch',
    'x509',
    '-socketPath',
    KIT_SOCKET,
  ];
}

/**
 * A workload pod `name` in `default` on `node`, service account `workload`, with the agent's
 * socket directory mounted: the spire-agent image as a workload (its CLI talks to the Workload
 * API, and the image is on every node already); `api watch` keeps it running.
 */
export function workloadPod(name: string, node: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      serviceAccountName: 'workload',
      nodeSelector: { 'kubernetes.io/hostname': node },
      containers: [
        {
          name: 'workload',
          image: kitImage('spire-agent'),
          imagePullPolicy: 'Never',
          command: ['/opt/spire/bin/spire-agent'],
          args: ['api', 'watch', '-socketPath', KIT_SOCKET],
          volumeMounts: [
            { name: 'spire-agent-socket', mountPath: '/run/spire/agent-sockets', readOnly: true },
          ],
        },
      ],
      volumes: [
        { name: 'spire-agent-socket', hostPath: { path: '/run/spire/agent-sockets', type: 'Directory' } },
      ],
    },
  };
}

export interface LocalKitNode {
  readonly name: string;
  readonly kubeletPort: number;
}

export interface LocalKitOptions {
  /** Directory to write the overlay into (created). */
  readonly dir: string;
  readonly clusterName: string;
  readonly trustDomain: string;
  /** spire-server's port on the host network. */
  readonly serverPort: number;
  /** sha256 hex of the node-attestor executable in the SPIRE images. */
  readonly pluginChecksum: string;
  readonly nodes: readonly LocalKitNode[];
  /**
   * `join_token`: the same kit with SPIRE's built-in join_token node attestor instead of k8s_csr,
   * as a floor for the figures (agents read their token from env JOIN_TOKEN, set per DaemonSet
   * once spire-server has generated it). Default k8s_csr.
   */
  readonly nodeAttestor?: 'k8s_csr' | 'join_token';
}

/** The base config `file` (server/server.conf, agent/agent.conf) with its NodeAttestor block replaced. */
function withJoinToken(file: string): string {
  const text = readFileSync(join(KIT_DIR, file), 'utf8');
  const start = text.indexOf('  NodeAttestor "k8s_csr" {\n');
  const end = text.indexOf('\n  }\n', start);
  if (start < 0 || end < 0) throw new Error(`deploy/${file} changed: no NodeAttestor "k8s_csr" block`);
  let out = `${text.slice(0, start)}  NodeAttestor "join_token" {\n    plugin_data {}\n  }\n${text.slice(end + 5)}`;
  if (file.startsWith('agent/')) {
    const at = out.indexOf('agent {\n');
    if (at < 0) throw new Error(`deploy/${file} changed: no agent block`);
    out = `${out.slice(0, at)}agent {\n  join_token = "\${JOIN_TOKEN}"\n${out.slice(at + 'agent {\n'.length)}`;
  }
  return out;
}

/** The name of the agent DaemonSet the overlay makes for `node`. */
export function agentDaemonSetName(node: string): string {
  return `spire-agent-${node}`;
}

/** The image tags the base sets (kustomization.yaml `images:`), for the overlay's own copies. */
function baseImages(): string {
  const k = readFileSync(join(KIT_DIR, 'kustomization.yaml'), 'utf8');
  const at = k.indexOf('\nimages:\n');
  if (at < 0) throw new Error('deploy/kustomization.yaml has no images: list');
  return k.slice(at + 1);
}

/** The image reference the base gives `name` (e.g. localhost/spire-agent:1.13.3-k8s-csr-0.1.0). */
export function kitImage(name: 'node-attestor' | 'spire-server' | 'spire-agent'): string {
  const tag = new RegExp(`- name: localhost/${name}\\n\\s+newTag: (\\S+)`).exec(baseImages())?.[1];
  if (tag === undefined) throw new Error(`deploy/kustomization.yaml sets no tag for localhost/${name}`);
  return `localhost/${name}:${tag}`;
}

function replaceOnce(text: string, from: string, to: string, what: string): string {
  const i = text.indexOf(from);
  if (i < 0 || text.includes(from, i + 1))
    throw new Error(`deploy/agent/daemonset.yaml changed: cannot find ${what} exactly once`);
  return text.slice(0, i) + to + text.slice(i + from.length);
}

/** The base agent DaemonSet, renamed and pinned to one node with that node's kubelet port. */
function agentDaemonSetFor(node: LocalKitNode): string {
  let t = readFileSync(join(KIT_DIR, 'agent', 'daemonset.yaml'), 'utf8');
  const name = agentDaemonSetName(node.name);
  t = replaceOnce(
    t,
    'kind: DaemonSet\nmetadata:\n  name: spire-agent\n',
    `kind: DaemonSet\nmetadata:\n  name: ${name}\n`,
    'its name',
  );
  // Its own selector label, so the per-node DaemonSets never claim each other's pods.
  t = replaceOnce(
    t,
    '  selector:\n    matchLabels:\n      app.kubernetes.io/name: spire-agent\n',
    `  selector:\n    matchLabels:\n      app.kubernetes.io/name: spire-agent\n      node-attestor.test/node: ${node.name}\n`,
    'its selector',
  );
  t = replaceOnce(
    t,
    '      labels:\n        app.kubernetes.io/name: spire-agent\n',
    `      labels:\n        app.kubernetes.io/name: spire-agent\n        node-attestor.test/node: ${node.name}\n`,
    'its pod labels',
  );
  t = replaceOnce(
    t,
    '      serviceAccountName: spire-agent\n',
    `      serviceAccountName: spire-agent\n      nodeSelector:\n        kubernetes.io/hostname: ${node.name}\n`,
    'its service account',
  );
  // An env entry wins over the same name from envFrom (spire-params).
  t = replaceOnce(
    t,
    '          env:\n',
    `          env:\n            - name: KUBELET_PORT\n              value: '${String(node.kubeletPort)}'\n`,
    'its env',
  );
  t = replaceOnce(t, 'imagePullPolicy: IfNotPresent', 'imagePullPolicy: Never', 'its imagePullPolicy');
  return t;
}

const NEVER_PULL = (kind: string, name: string, container: string): string => `  - target:
      kind: ${kind}
      name: ${name}
    patch: |-
      apiVersion: apps/v1
      kind: ${kind}
      metadata:
        name: ${name}
        namespace: ${KIT_NAMESPACE}
      spec:
        template:
          spec:
            containers:
              - name: ${container}
                imagePullPolicy: Never
`;

/** Writes the overlay; `kubectl apply -k <returned dir>` applies it. */
export function writeLocalOverlay(o: LocalKitOptions): string {
  mkdirSync(o.dir, { recursive: true });
  const agents = o.nodes.map((n) => {
    const file = `agent-${n.name}.yaml`;
    writeFileSync(join(o.dir, file), agentDaemonSetFor(n));
    return file;
  });
  const port = String(o.serverPort);
  const joinToken = o.nodeAttestor === 'join_token';
  if (joinToken) {
    writeFileSync(join(o.dir, 'server.conf'), withJoinToken('server/server.conf'));
    writeFileSync(join(o.dir, 'agent.conf'), withJoinToken('agent/agent.conf'));
  }
  const configs = joinToken
    ? `  - name: spire-server
    namespace: ${KIT_NAMESPACE}
    behavior: replace
    files:
      - server.conf
  - name: spire-agent
    namespace: ${KIT_NAMESPACE}
    behavior: replace
    files:
      - agent.conf
`
    : '';
  const kustomization = `# Generated by test/harness/deploy-kit.ts: the kit (deploy/) on a harness cluster.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ${relative(o.dir, KIT_DIR)}
${agents.map((f) => `  - ${f}`).join('\n')}
configMapGenerator:
  - name: spire-params
    namespace: ${KIT_NAMESPACE}
    behavior: merge
    literals:
      - CLUSTER_NAME=${o.clusterName}
      - TRUST_DOMAIN=${o.trustDomain}
      - PLUGIN_CHECKSUM=${o.pluginChecksum}
      - SPIRE_SERVER_ADDRESS=127.0.0.1
      - SPIRE_SERVER_PORT=${port}
      - KUBELET_SKIP_VERIFICATION=false
${configs}patches:
  # The base's DaemonSet gives way to one per node (see agent-<node>.yaml).
  - patch: |-
      $patch: delete
      apiVersion: apps/v1
      kind: DaemonSet
      metadata:
        name: spire-agent
        namespace: ${KIT_NAMESPACE}
  # spire-server on the host network at a free port, its data on an emptyDir.
  - target:
      kind: StatefulSet
      name: spire-server
    patch: |-
      - op: remove
        path: /spec/volumeClaimTemplates
      - op: add
        path: /spec/template/spec/volumes/-
        value: { name: data, emptyDir: {} }
      - op: add
        path: /spec/template/spec/hostNetwork
        value: true
      - op: add
        path: /spec/template/spec/dnsPolicy
        value: ClusterFirstWithHostNet
      - op: replace
        path: /spec/template/spec/containers/0/ports/0/containerPort
        value: ${port}
${NEVER_PULL('StatefulSet', 'spire-server', 'spire-server')}${NEVER_PULL('Deployment', 'node-attestor-approver', 'approver')}${baseImages()}`;
  writeFileSync(join(o.dir, 'kustomization.yaml'), kustomization);
  return o.dir;
}

// npm run cluster [-- --nodes N]: starts a local control plane (etcd, kube-apiserver,
// kube-controller-manager with the CSR controllers) and prints how to reach it; with --nodes N
// (1..26) it is a cluster that runs workloads, with N real nodes (kubelet + containerd + CNI,
// joined by TLS bootstrap: test/harness/node.ts). Ctrl-C stops it and removes its files.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, binPath } from '../test/harness/bins.js';
import { startCluster } from '../test/harness/cluster.js';
import { startControlPlane, type ControlPlane } from '../test/harness/control-plane.js';
import type { Node } from '../test/harness/node.js';

const USAGE = 'usage: npm run cluster [-- --nodes N]   (N: 0 to 26 local nodes; default 0)';

function parseNodes(argv: readonly string[]): number {
  let nodes = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const value = a.startsWith('--nodes=')
      ? a.slice('--nodes='.length)
      : a === '--nodes'
        ? argv[++i]
        : undefined;
    if (value === undefined) {
      process.stderr.write(`cluster: unknown argument '${a}'\n${USAGE}\n`);
      process.exit(2);
    }
    if (!/^\d+$/.test(value) || Number(value) > 26) {
      process.stderr.write(`cluster: --nodes must be a whole number from 0 to 26, got '${value}'\n`);
      process.exit(2);
    }
    nodes = Number(value);
  }
  return nodes;
}

const nodeCount = parseNodes(process.argv.slice(2));
if (nodeCount > 0) {
  // A node needs more than the control plane: its tools, its binaries, the pause image.
  try {
    execFileSync('node', [join(REPO_ROOT, 'scripts', 'prereqs.mjs'), 'node'], { stdio: 'inherit' });
    execFileSync('bash', [join(REPO_ROOT, 'tools', 'build-test-bins.sh'), 'kubernetes-node', 'cni'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  } catch {
    process.exit(1);
  }
}

const log = (l: string): void => {
  process.stderr.write(`starting ${l}\n`);
};
const t0 = performance.now();
let cp: ControlPlane;
let nodes: readonly Node[] = [];
let stopAll: () => Promise<void>;
if (nodeCount > 0) {
  const cluster = await startCluster({ nodes: nodeCount, log });
  cp = cluster.cp;
  nodes = cluster.nodes;
  stopAll = () => cluster.stop();
} else {
  cp = await startControlPlane({ log });
  stopAll = () => cp.stop();
}
const secs = ((performance.now() - t0) / 1000).toFixed(1);
const kubectl = binPath('kubectl');
process.stdout.write(
  [
    `Local ${nodeCount > 0 ? `cluster with ${String(nodeCount)} node(s)` : 'control plane'} ready in ${secs} s.`,
    `  API server:        ${cp.server}`,
    ...(cp.service !== undefined
      ? [
          `  for pods:          https://${cp.service.ip}:443 (the kubernetes Service, range ${cp.service.range})`,
        ]
      : []),
    `  cluster CA:        ${cp.pki.caCertPath}`,
    `  cluster CA key:    ${cp.pki.caKeyPath}   (signs node client certificates)`,
    `  admin kubeconfig:  ${cp.adminKubeconfig}`,
    `  logs:              ${cp.dir}/*.log`,
    ...nodes.flatMap((n) => [
      `  node ${n.name}:      Ready in ${(n.joinMs / 1000).toFixed(1)} s; bridge ${n.bridge.name} ${n.bridge.subnet}, kubelet port ${String(n.kubeletPort)}`,
      `    kubelet log:     ${n.kubeletLog}`,
      `    containerd log:  ${n.containerdLog}`,
      `    containers:      ctr -a ${n.containerdSocket} -n k8s.io containers ls`,
      `    /var/lib/spire:  ${n.hostPath('/var/lib/spire')}   (the node's hostPath dir)`,
    ]),
    '',
    'Try:',
    `  export KUBECONFIG=${cp.adminKubeconfig}`,
    `  ${kubectl} get ${nodeCount > 0 ? 'nodes -o wide' : 'csr'}`,
    ...(nodeCount > 0
      ? [
          '  (images: pods use imagePullPolicy: Never; import one with',
          `   ctr -a ${nodes[0]?.containerdSocket ?? ''} -n k8s.io images import <oci-archive>)`,
        ]
      : []),
    '',
    'Press Ctrl-C to stop it.',
    '',
  ].join('\n'),
);
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  process.stderr.write('stopping…\n');
  void stopAll().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => {
  const dead = [...cp.processes, ...nodes.flatMap((n) => n.processes())].find((p) => p.hasExited);
  if (dead !== undefined && !stopping) {
    process.stderr.write(`${dead.name} ${dead.describeExit()}; last log lines:\n${dead.tail()}\n`);
    stop();
  }
}, 1000);

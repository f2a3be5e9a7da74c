// Starts a cluster with one node running a pod and prints what it made (one JSON line). Then, with
// `fail`, it dies of an uncaught error as a test failing midway does; with `hold` it waits to be
// SIGKILLed. The node e2e test checks what is left behind in each case.
import { startCluster } from '../../harness/cluster.js';
import { PAUSE_IMAGE } from '../../harness/node-images.js';

const cluster = await startCluster({ nodes: 1, keepDir: true });
const node = cluster.nodes[0]!;
const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'left-running' },
  spec: {
    nodeName: node.name,
    containers: [{ name: 'pause', image: PAUSE_IMAGE, imagePullPolicy: 'Never' }],
  },
};
await cluster.cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod) });
// Ready first: before that the namespace also holds runc and the CNI plugins, which come and go.
await cluster.cp.kubectl(['wait', '--for=condition=Ready', 'pod/left-running', '--timeout=60s']);
// The containers' processes: the sandbox's pause and the container's (both run the pause image).
const pids = node
  .nodeProcesses()
  .filter((p) => p.command === 'pause')
  .map((p) => p.pid);
if (pids.length < 2) throw new Error(`the pod is Ready but ${String(pids.length)} pause process(es) run`);
process.stdout.write(
  `${JSON.stringify({ cpDir: cluster.cp.dir, nodeDir: node.dir, bridge: node.bridge.name, serviceIp: cluster.cp.service?.ip, pids })}\n`,
);
if (process.argv[2] === 'hold') setInterval(() => undefined, 1 << 30);
else throw new Error('simulated test failure with a node running');

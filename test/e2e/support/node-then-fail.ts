// Starts a cluster with one node running a pod, prints what it made (one JSON line), then fails
// with an uncaught error, as a test failing midway does: the node e2e test checks that the exit
// hooks left no process, container, bridge or address behind.
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
const deadline = Date.now() + 60_000;
let pids: number[] = [];
while (pids.length < 2) {
  if (Date.now() > deadline) throw new Error('the pod did not start within 60 s');
  await new Promise((r) => setTimeout(r, 200));
  pids = (await node.ctr(['tasks', 'ls']))
    .split('\n')
    .slice(1)
    .map((l) => Number(l.trim().split(/\s+/)[1]))
    .filter((p) => Number.isInteger(p) && p > 0);
}
process.stdout.write(
  `${JSON.stringify({ cpDir: cluster.cp.dir, nodeDir: node.dir, bridge: node.bridge.name, serviceIp: cluster.cp.service?.ip, pids })}\n`,
);
throw new Error('simulated test failure with a node running');

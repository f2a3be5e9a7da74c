// The demo's second act: real nodes (kubelet + containerd, joined by TLS bootstrap) in the local
// cluster, the deployment kit (deploy/) applied on them, the agents attested with k8s_csr as pods,
// and a workload pod holding an X.509-SVID. Run by scripts/demo.ts after the host tutorial.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, binPath } from '../test/harness/bins.js';
import { nodeName } from '../test/harness/cluster.js';
import type { ControlPlane } from '../test/harness/control-plane.js';
import {
  KIT_NAMESPACE as NS,
  serverCliArgs,
  writeLocalOverlay,
  workloadEntryArgs,
  workloadFetchArgs,
  workloadPod,
} from '../test/harness/deploy-kit.js';
import { startNode, type Node } from '../test/harness/node.js';
import { builtImageArchive } from '../test/harness/node-images.js';
import { freePort } from '../test/harness/ports.js';

export interface DemoIo {
  step(title: string): void;
  show(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv, input?: string): string;
  waitingFor<T>(what: string, p: Promise<T>): Promise<T>;
  say(line: string): void;
}

const CLUSTER = 'demo';
const TRUST_DOMAIN = 'example.org';
const WORKLOAD_ID = `spiffe://${TRUST_DOMAIN}/ns/default/sa/workload`;
/** How long the kit may take to be Ready and attested here (measured: ~10 s; docs/deploy.md). */
const BOUND_MS = 180_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 500 ms until it returns a value, or fails after `BOUND_MS` naming `what`. */
async function until<T>(what: string, check: () => T | undefined): Promise<T> {
  const deadline = Date.now() + BOUND_MS;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${String(BOUND_MS / 1000)} s`);
    await sleep(500);
  }
}

/** Starts `count` nodes (pushed onto `nodes`: the caller stops them, also after a failure) and deploys the kit. */
export async function runKitAct(
  cp: ControlPlane,
  count: number,
  work: string,
  io: DemoIo,
  nodes: Node[],
): Promise<void> {
  const kubectl = binPath('kubectl');
  const env = { ...process.env, KUBECONFIG: cp.adminKubeconfig };
  // Every shown command must succeed (show throws on a non-zero exit): the demo stops at the first failure.
  const run = (args: readonly string[]): string => io.show(kubectl, args, env);
  const quiet = (args: readonly string[]): string => spawnQuiet(kubectl, args, env);

  io.step(
    'Act 2: build the images here (no registry): node-attestor, spire-server and spire-agent with the plugin, pause',
  );
  const archives: string[] = [];
  for (const image of ['node-attestor', 'spire-server', 'spire-agent'] as const)
    archives.push(await io.waitingFor(`the ${image} image`, builtImageArchive(image)));
  for (const a of archives) io.say(`  ${a}`);

  io.step(`Join ${String(count)} real node(s): kubelet + containerd, TLS bootstrap with a bootstrap token`);
  for (let i = 0; i < count; i++) {
    const n = await io.waitingFor(
      `node ${nodeName(i)} to be Ready`,
      startNode(cp, {
        name: nodeName(i),
        images: archives,
        log: (l) => {
          io.say(`  ${l}`);
        },
      }),
    );
    nodes.push(n);
    io.say(`  ${n.name} Ready in ${(n.joinMs / 1000).toFixed(1)} s`);
  }
  io.show(kubectl, ['get', 'nodes', '-o', 'wide'], env);
  // The kubelets' own CSRs: made with the bootstrap token, approved by kube-controller-manager.
  io.show(
    kubectl,
    ['get', 'csr', '--field-selector', 'spec.signerName=kubernetes.io/kube-apiserver-client-kubelet'],
    env,
  );

  io.step('Apply the deployment kit: kubectl apply -k (deploy/ through a local overlay)');
  const pluginChecksum =
    readFileSync(join(REPO_ROOT, 'dist', 'node-attestor.sha256'), 'utf8').split(/\s/)[0] ?? '';
  const overlay = writeLocalOverlay({
    dir: join(work, 'kit-overlay'),
    clusterName: CLUSTER,
    trustDomain: TRUST_DOMAIN,
    serverPort: await freePort(),
    pluginChecksum,
    nodes: nodes.map((n) => ({ name: n.name, kubeletPort: n.kubeletPort })),
  });
  io.say(`(the overlay sets what this cluster lacks — no DNS, no kube-proxy, no storage — docs/deploy.md)`);
  io.show(kubectl, ['apply', '-k', overlay], env);
  const appliedAt = performance.now();

  await io.waitingFor(
    'every pod of the kit to be Ready',
    until('every pod of the kit Ready', () => {
      const pods = JSON.parse(quiet(['get', 'pods', '-n', NS, '-o', 'json']) || '{"items":[]}') as {
        items: { status: { conditions?: { type: string; status: string }[] } }[];
      };
      const ready = pods.items.filter((p) =>
        p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      ).length;
      // server + one agent per node + two approvers
      return pods.items.length >= 3 + count && ready === pods.items.length ? true : undefined;
    }),
  );
  io.say(`  all Ready ${((performance.now() - appliedAt) / 1000).toFixed(1)} s after apply`);
  io.show(kubectl, ['get', 'pods', '-n', NS, '-o', 'wide'], env);

  io.step('The agents, attested with k8s_csr, as spire-server sees them (inside its pod)');
  const serverCli = serverCliArgs([]);
  await io.waitingFor(
    'every agent to be attested',
    until('every agent attested', () => {
      const out = quiet([...serverCli, 'agent', 'list']);
      return (out.match(/Attestation type\s*:\s*k8s_csr/g) ?? []).length >= count ? true : undefined;
    }),
  );
  run([...serverCli, 'agent', 'list']);
  // The agents' node certificates: approved by the node-bound approver, not auto-approved.
  run([
    'get',
    'csr',
    '--field-selector',
    'spec.signerName=kubernetes.io/kube-apiserver-client-kubelet',
    '-o',
    'custom-columns=NAME:.metadata.name,REQUESTOR:.spec.username,APPROVED BY:.status.conditions[0].reason',
  ]);

  io.step('A workload pod gets its X.509-SVID through the Workload API socket');
  const first = nodes[0];
  if (first === undefined) throw new Error('no node');
  const parent = `spiffe://${TRUST_DOMAIN}/spire/agent/k8s_csr/${CLUSTER}/${first.name}`;
  run([...serverCli, ...workloadEntryArgs(parent, WORKLOAD_ID)]);
  run(['create', 'serviceaccount', '-n', 'default', 'workload']);
  io.show(kubectl, ['apply', '-f', '-'], env, JSON.stringify(workloadPod('workload', first.name)));
  const fetch = workloadFetchArgs('workload');
  await io.waitingFor(
    'the workload to hold its SVID',
    until('the workload SVID', () => (quiet(fetch).includes(WORKLOAD_ID) ? true : undefined)),
  );
  io.say(`  apply -k → workload SVID ${((performance.now() - appliedAt) / 1000).toFixed(1)} s`);
  run(fetch);
}

/** stdout of a command that may fail (while waiting), nothing printed. */
function spawnQuiet(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync(cmd, args, {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: 30_000,
  });
  return r.status === 0 ? r.stdout : '';
}

/**
 * The deployment kit (deploy/) applied with `kubectl apply -k` to a harness cluster with two real
 * nodes (kubelet + containerd, TLS bootstrap: test/harness/node.ts), through the local overlay
 * (test/harness/deploy-kit.ts). Real pods from the images built here, nothing pulled:
 *
 * - the base, unchanged, passes a server-side dry run (the overlay is what runs here);
 * - every pod Ready within READY_BOUND_MS; each agent attested as
 *   spiffe://<td>/spire/agent/k8s_csr/<cluster>/<node> with its node UID selector; its CSR
 *   approved by the node-bound approver (the condition's reason is the approver's, not KCM's);
 * - a workload pod selected by k8s:ns/k8s:sa fetches its X.509-SVID through the Workload API;
 * - node A's agent pod asking for node B's certificate is denied (NodeMismatch);
 * - a restarted agent pod attests again with the stored identity (no new CSR); a restarted
 *   kubelet changes nothing for attested agents;
 * - node B deleted: its agent's next attestation is refused (verify_node);
 * - bad deployment input, each with the line that says so: a wrong cluster name, an agent
 *   without RBAC, a missing CA bundle.
 *
 * Figures (apply → attested, → workload SVID, each pod's resident memory) are printed as
 * diagnostics and collected in the last test's output.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  KIT_DIR,
  KIT_NAMESPACE as NS,
  agentDaemonSetName,
  workloadEntryArgs,
} from '../harness/deploy-kit.js';
import type { Node } from '../harness/node.js';
import type { AttestedAgent } from '../harness/spire.js';
import { isReady, startKitCluster, type KitCluster } from './support/kit-cluster.js';

const CLUSTER = 'local';
const TRUST_DOMAIN = 'example.org';
const AGENT_SA_USER = `system:serviceaccount:${NS}:spire-agent`;
/** Every pod of the kit Ready after `kubectl apply -k`, on this 2-core machine shared with others. */
const READY_BOUND_MS = 180_000;
const WORKLOAD_ID = `spiffe://${TRUST_DOMAIN}/workload`;
const APPROVER_REASON = 'NodeBindingVerified';

interface CsrJson {
  metadata: { name: string };
  spec: { username?: string; extra?: Record<string, string[]> };
  status: { certificate?: string; conditions?: { type: string; reason?: string; message?: string }[] };
}

describe('the deployment kit (kubectl apply -k deploy/) on two real nodes', { timeout: 30 * 60_000 }, () => {
  let kit: KitCluster;
  let nodes: readonly Node[] = [];
  /** The node spire-server runs on (A) and the other one (B). */
  let nodeA: Node;
  let nodeB: Node;
  const figures: string[] = [];
  let appliedAt = 0;
  /** Set by the first test: the later ones build on its deployment. */
  let deployed = false;
  const needDeployed = (): void => {
    if (!deployed) throw new Error('the kit is not deployed: see the first test');
  };

  const kubectl = (args: readonly string[]): Promise<string> => kit.kubectl(args);
  const pods = (ns?: string) => kit.pods(ns);
  const agentPod = (node: string) => kit.agentPod(node);
  const until = <T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> =>
    kit.until(what, timeoutMs, check);
  const serverExec = (args: readonly string[]) => kit.serverExec(args);
  const agents = (): Promise<AttestedAgent[]> => kit.agents();
  const fetchSvid = () => kit.fetchSvid();
  const podLogs = (pod: string) => kit.podLogs(pod);
  const agentPath = (node: string): string => `/spire/agent/k8s_csr/${CLUSTER}/${node}`;
  const agentOf = async (node: string): Promise<AttestedAgent | undefined> =>
    (await agents()).find((a) => a.id.path === agentPath(node));
  const agentCsrs = async (): Promise<CsrJson[]> =>
    (JSON.parse(await kubectl(['get', 'csr', '-o', 'json'])) as { items: CsrJson[] }).items.filter(
      (c) => c.spec.username === AGENT_SA_USER,
    );
  const csrNode = (c: CsrJson): string | undefined =>
    c.spec.extra?.['authentication.kubernetes.io/node-name']?.[0];

  before(async () => {
    kit = await startKitCluster({ clusterName: CLUSTER, trustDomain: TRUST_DOMAIN });
    nodes = kit.nodes;
    for (const n of nodes)
      figures.push(`node ${n.name} joined (TLS bootstrap) and Ready in ${(n.joinMs / 1000).toFixed(1)} s`);
  });

  after(async () => {
    await kit.stop();
  });

  it('the base itself (deploy/, unchanged) passes a server-side dry run', async () => {
    // Before the overlay's apply (after it, the StatefulSet's volumeClaimTemplates would differ:
    // immutable). Namespaced objects need their namespace for real: a dry run does not create it.
    await kubectl(['create', 'namespace', NS]);
    const out = await kubectl(['apply', '-k', KIT_DIR, '--dry-run=server']);
    for (const obj of [
      'statefulset.apps/spire-server',
      'daemonset.apps/spire-agent',
      'deployment.apps/node-attestor-approver',
      'service/spire-server',
      'clusterrolebinding.rbac.authorization.k8s.io/spire-agent',
    ])
      assert.match(
        out,
        new RegExp(`${obj.replaceAll('.', '\\.')} (created|configured|unchanged) \\(server dry run\\)`),
        out,
      );
  });

  it(`kubectl apply -k: every pod Ready within ${String(READY_BOUND_MS / 1000)} s; each agent attested`, async (t) => {
    appliedAt = performance.now();
    await kubectl(['apply', '-k', kit.overlay]);
    await until('both agents in spire-server agent list', READY_BOUND_MS, async () => {
      const ids = new Set((await agents()).map((a) => a.id.path));
      return nodes.every((n) => ids.has(agentPath(n.name))) ? true : undefined;
    });
    const attestedMs = performance.now() - appliedAt;
    const expected = { server: 1, approver: 2, agent: nodes.length };
    await until(
      `every pod in ${NS} Ready (${JSON.stringify(expected)})`,
      READY_BOUND_MS - attestedMs,
      async () => {
        const ps = await pods();
        const count = (name: string): number =>
          ps.filter((p) => p.metadata.labels?.['app.kubernetes.io/name'] === name && isReady(p)).length;
        return count('spire-server') === expected.server &&
          count('node-attestor-approver') === expected.approver &&
          count('spire-agent') === expected.agent
          ? true
          : undefined;
      },
    );
    const readyMs = performance.now() - appliedAt;
    figures.push(
      `apply -k -> both agents attested ${(attestedMs / 1000).toFixed(1)} s; -> every pod Ready ${(readyMs / 1000).toFixed(1)} s`,
    );
    t.diagnostic(figures.at(-1) ?? '');
    const restarts = (await pods())
      .filter((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'spire-agent')
      .map((p) => `${p.metadata.name} ${String(p.status.containerStatuses?.[0]?.restartCount)}`);
    figures.push(`agent restarts before Ready (the bundle not yet published): ${restarts.join(', ')}`);
    t.diagnostic(figures.at(-1) ?? '');
    const server = (await pods()).find((p) => p.metadata.name === 'spire-server-0');
    const a = nodes.find((n) => n.name === server?.spec.nodeName);
    assert.ok(a !== undefined, `spire-server-0 runs on ${String(server?.spec.nodeName)}`);
    const b = nodes.find((n) => n !== a);
    assert.ok(b !== undefined);
    nodeA = a;
    nodeB = b;
    deployed = true;
  });

  it('each agent is spiffe://<td>/spire/agent/k8s_csr/<cluster>/<node> with its node UID selector', async () => {
    needDeployed();
    for (const n of nodes) {
      const agent = await agentOf(n.name);
      assert.ok(agent !== undefined, `no agent for ${n.name}: ${JSON.stringify(await agents())}`);
      assert.equal(agent.id.trust_domain, TRUST_DOMAIN);
      assert.equal(agent.attestation_type, 'k8s_csr');
      const uid = (await kubectl(['get', 'node', n.name, '-o', 'jsonpath={.metadata.uid}'])).trim();
      const selectors = agent.selectors.map((s) => `${s.type}:${s.value}`);
      assert.ok(selectors.includes(`k8s_csr:agent_node_uid:${uid}`), selectors.join(', '));
      assert.ok(selectors.includes(`k8s_csr:cluster:${CLUSTER}`), selectors.join(', '));
    }
  });

  it("each agent's CSR was approved by the node-bound approver, not by kube-controller-manager", async () => {
    needDeployed();
    const csrs = await agentCsrs();
    for (const n of nodes) {
      const mine = csrs.filter((c) => csrNode(c) === n.name);
      assert.equal(mine.length, 1, `CSRs of ${n.name}'s agent: ${JSON.stringify(mine)}`);
      const [c] = mine;
      assert.ok(c !== undefined);
      const approved = c.status.conditions?.find((x) => x.type === 'Approved');
      assert.ok(approved !== undefined, JSON.stringify(c.status));
      // KCM's csrapproving would have written reason AutoApproved.
      assert.equal(approved.reason, APPROVER_REASON, JSON.stringify(approved));
      assert.match(approved.message ?? '', new RegExp(`^node-attestor approver: CN names node ${n.name},`));
      assert.ok((c.status.certificate ?? '') !== '', `CSR ${c.metadata.name} has no certificate`);
    }
  });

  it('a workload pod selected by k8s:ns and k8s:sa fetches its X.509-SVID through the Workload API socket', async (t) => {
    needDeployed();
    const entryAt = performance.now();
    const entry = await serverExec([
      ...workloadEntryArgs(`spiffe://${TRUST_DOMAIN}${agentPath(nodeA.name)}`, WORKLOAD_ID),
    ]);
    assert.equal(entry.code, 0, entry.stderr);
    await kit.createWorkload(nodeA.name);
    const svid = await until('the workload pod to fetch its X.509-SVID', 120_000, async () => {
      const r = await fetchSvid();
      return r.code === 0 && r.stdout.includes(WORKLOAD_ID) ? r.stdout : undefined;
    });
    const now = performance.now();
    assert.match(svid, new RegExp(`SPIFFE ID:\\s+${WORKLOAD_ID}`));
    figures.push(
      `entry create -> workload SVID ${((now - entryAt) / 1000).toFixed(1)} s; apply -k -> workload SVID ${((now - appliedAt) / 1000).toFixed(1)} s`,
    );
    t.diagnostic(figures.at(-1) ?? '');
  });

  it("node A's agent pod asking for node B's certificate is denied by the approver", async () => {
    needDeployed();
    const a = await agentPod(nodeA.name);
    assert.ok(a !== undefined);
    // The identity command in the agent image, with A's pod-bound token, naming node B.
    const r = await kit.kubectlRaw(
      [
        'exec',
        '-n',
        NS,
        a.metadata.name,
        '--',
        '/opt/spire/plugins/node-attestor',
        '-in-cluster',
        '-wait=poll',
        '-timeout=60s',
        '-agent-name',
        nodeB.name,
        '-id-dir',
        '/var/lib/spire/agent/stolen',
      ],
      90_000,
    );
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /denied/i, r.stderr);
    const denied = (await agentCsrs()).filter(
      (c) => csrNode(c) === nodeA.name && c.status.conditions?.some((x) => x.type === 'Denied'),
    );
    assert.equal(denied.length, 1, JSON.stringify(denied));
    const cond = denied[0]?.status.conditions?.find((x) => x.type === 'Denied');
    assert.equal(cond?.reason, 'NodeMismatch', JSON.stringify(cond));
    assert.match(cond.message ?? '', new RegExp(`CN names node ${nodeB.name}`));
  });

  it('a restarted agent pod attests again with the stored identity (no new CSR)', async () => {
    needDeployed();
    const before = await agentPod(nodeA.name);
    const csrsBefore = (await agentCsrs()).length;
    const serialBefore = (await agentOf(nodeA.name))?.x509svid_serial_number;
    assert.ok(before !== undefined && serialBefore !== undefined);
    await kubectl(['delete', 'pod', '-n', NS, before.metadata.name, '--wait=true']);
    await until(`a new Ready agent pod on ${nodeA.name}`, 120_000, async () => {
      const p = await agentPod(nodeA.name);
      return p !== undefined && p.metadata.uid !== before.metadata.uid && isReady(p) ? p : undefined;
    });
    const agent = await until('a new agent SVID for node A', 60_000, async () => {
      const g = await agentOf(nodeA.name);
      return g !== undefined && g.x509svid_serial_number !== serialBefore ? g : undefined;
    });
    assert.equal(agent.id.path, agentPath(nodeA.name));
    assert.equal((await agentCsrs()).length, csrsBefore, 'the restarted agent created a CSR');
    await until('the workload SVID through the new agent', 60_000, async () =>
      (await fetchSvid()).code === 0 ? true : undefined,
    );
  });

  it('restarting the kubelet changes nothing for attested agents', async () => {
    needDeployed();
    const podBefore = await agentPod(nodeA.name);
    const agentBefore = await agentOf(nodeA.name);
    assert.ok(podBefore !== undefined && agentBefore !== undefined);
    const restartsBefore = podBefore.status.containerStatuses?.[0]?.restartCount;
    await nodeA.restartKubelet();
    await nodeA.waitReady();
    // The restarted kubelet has synced the pod once it reports it Ready again.
    const podAfter = await until(
      'the agent pod reported Ready by the restarted kubelet',
      60_000,
      async () => {
        const p = await agentPod(nodeA.name);
        return p !== undefined && isReady(p) ? p : undefined;
      },
    );
    assert.equal(podAfter.metadata.uid, podBefore.metadata.uid);
    assert.equal(podAfter.status.containerStatuses?.[0]?.restartCount, restartsBefore);
    // spire-server's exec goes through its node's kubelet: wait until that answers again.
    const agentAfter = await until('spire-server agent list through the restarted kubelet', 60_000, () =>
      agentOf(nodeA.name),
    );
    assert.equal(agentAfter.x509svid_serial_number, agentBefore.x509svid_serial_number);
    const svid = await fetchSvid();
    assert.equal(svid.code, 0, svid.stderr);
  });

  it('resident memory of each pod (figures)', async (t) => {
    needDeployed();
    const all = await pods();
    for (const p of all) {
      const id = p.status.containerStatuses?.[0]?.containerID?.replace(/^containerd:\/\//, '');
      assert.ok(id !== undefined, `${p.metadata.name} has no container ID`);
      // The container's cgroup lists its processes (and the plugin the SPIRE process started) by
      // their PIDs as this process sees them, whatever PID namespace the node runs in.
      const procs = containerPids(id);
      assert.ok(
        procs !== undefined && procs.length > 0,
        `no cgroup with processes for ${p.metadata.name} (${id})`,
      );
      const kb = procs.reduce((sum, q) => sum + rssKb(q), 0);
      const each = procs.map((q) => `${comm(q)} ${(rssKb(q) / 1024).toFixed(1)}`).join(' + ');
      figures.push(`RSS ${p.metadata.name}: ${(kb / 1024).toFixed(1)} MiB (${each})`);
      t.diagnostic(figures.at(-1) ?? '');
    }
  });

  it("deleting node B makes its agent's next attestation fail (verify_node)", async (t) => {
    needDeployed();
    const b = await agentPod(nodeB.name);
    const id = b?.status.containerStatuses?.[0]?.containerID?.replace(/^containerd:\/\//, '');
    assert.ok(id !== undefined);
    await kubectl(['delete', 'node', nodeB.name, '--wait=true']);
    // Make B's agent attest now (its SVID would otherwise rotate, and re-attest, in ~30 minutes):
    // its container killed, B's kubelet starts it again, with an empty data_dir.
    await nodeB.ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]);
    const line = `node ${nodeB.name} does not exist in cluster ${CLUSTER}`;
    t.diagnostic(
      await until(`spire-server to log "${line}"`, 120_000, async () =>
        lineWith(await podLogs('spire-server-0'), line),
      ),
    );
  });

  it('bad input: an agent with a wrong cluster name logs the refusal', async (t) => {
    needDeployed();
    await kubectl([
      'set',
      'env',
      '-n',
      NS,
      `daemonset/${agentDaemonSetName(nodeA.name)}`,
      'CLUSTER_NAME=no-such-cluster',
    ]);
    const text = 'certificate chain does not verify to the CA bundle of a cluster this server attests';
    t.diagnostic(
      await until(`the agent on ${nodeA.name} to log "${text}"`, 120_000, async () => {
        const p = await agentPod(nodeA.name);
        return p === undefined ? undefined : lineWith(await podLogs(p.metadata.name), text);
      }),
    );
    // The agent is told only that (a caller is told nothing about the configured clusters); the
    // server's log has the reason.
    const detail = 'the agent names cluster no-such-cluster, which this server is not configured for';
    t.diagnostic(
      await until(`spire-server to log "${detail}"`, 60_000, async () =>
        lineWith(await podLogs('spire-server-0'), detail),
      ),
    );
  });

  it('bad input: an agent without its RBAC logs the 403 and what to apply', async (t) => {
    needDeployed();
    await kubectl(['delete', 'clusterrolebinding', 'spire-agent']);
    // Without a stored identity, so that the agent must create a CSR.
    rmSync(nodeA.hostPath('/var/lib/spire/agent/k8s_csr'), { recursive: true, force: true });
    await kubectl(['set', 'env', '-n', NS, `daemonset/${agentDaemonSetName(nodeA.name)}`, 'CLUSTER_NAME-']);
    const text = 'needs create and get on certificatesigningrequests';
    const line = await until(`the agent on ${nodeA.name} to log "${text}"`, 120_000, async () => {
      const p = await agentPod(nodeA.name);
      return p === undefined ? undefined : lineWith(await podLogs(p.metadata.name), text);
    });
    assert.match(line, /forbidden/);
    assert.match(line, /deploy\/agent\/rbac\.yaml/);
    t.diagnostic(line);
  });

  it('bad input: a CA bundle override without its ConfigMap stops spire-server, naming the file', async (t) => {
    needDeployed();
    const file = '/run/spire/node-client-ca/ca.crt';
    await kubectl(['set', 'env', '-n', NS, 'statefulset/spire-server', `NODE_CLIENT_CA_BUNDLE=${file}`]);
    const line = await until(`spire-server to log the missing ${file}`, 180_000, async () => {
      const p = (await pods()).find((q) => q.metadata.name === 'spire-server-0');
      // The pod that runs with the override (the old one logged nothing of it).
      const env = JSON.stringify(p?.spec);
      return p === undefined || !env.includes(file)
        ? undefined
        : lineWith(await podLogs(p.metadata.name), file);
    });
    assert.match(line, /no such file|does not exist|cannot read/i);
    t.diagnostic(line);
    t.diagnostic(`figures:\n${figures.join('\n')}`);
  });
});

/** The first line of `logs` that contains `text`, or undefined. */
function lineWith(logs: string, text: string): string | undefined {
  return logs.split('\n').find((l) => l.includes(text));
}

/** The PIDs in the cgroup of container `id` (a directory named after it in the memory hierarchy). */
function containerPids(id: string): number[] | undefined {
  for (const root of ['/sys/fs/cgroup/memory', '/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    const dir = findDir(root, id, 8);
    if (dir === undefined) continue;
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((l) => /^\d+$/.test(l))
      .map(Number);
  }
  return undefined;
}

/** Breadth first: the first directory named `name` within `depth` levels under `root`. */
function findDir(root: string, name: string, depth: number): string | undefined {
  let level = [root];
  for (let d = 0; d < depth && level.length > 0; d++) {
    const next: string[] = [];
    for (const dir of level) {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        const p = join(dir, e.name);
        if (e.name === name) return p;
        next.push(p);
      }
    }
    level = next;
  }
  return undefined;
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${String(pid)}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

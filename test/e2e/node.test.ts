/**
 * A real node in the harness (test/harness/node.ts): kubelet 1.37 + containerd + a CNI bridge,
 * joined through TLS bootstrap. One node: the bootstrap CSR and the kubelet's certificate, a pod
 * from a locally built image on the node's bridge that reaches the API server through the
 * `kubernetes` Service address with its projected token (node-attestor -in-cluster gets a node
 * identity that way), `kubectl logs` and `exec`, a kubelet restart, the kubelet's API on
 * the node IP as SPIRE's workload attestor uses it (node_name_env = the pod's hostIP). Two nodes: both Ready, a pod pinned to each,
 * hostPath separation; two clusters at once.
 * Every process, bridge, address and mount is gone after stop, after a test process that fails
 * midway, and (processes) after one that is SIGKILLed.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster } from '../harness/cluster.js';
import { REPO_ROOT } from '../harness/bins.js';
import { httpRequestText, type HttpResult } from '../harness/http-request.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { cidrsOverlap, listBridges, reapStaleHostNet } from '../harness/host-net.js';
import type { Node } from '../harness/node.js';
import { PAUSE_IMAGE, builtImageArchive, criImageName, imageRef } from '../harness/node-images.js';
import { waitNoProcesses } from './support/ps.js';

interface Pod {
  metadata: { name: string; uid: string };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    podIP?: string;
    containerStatuses?: { containerID?: string; restartCount: number; state?: Record<string, unknown> }[];
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function getPod(cp: ControlPlane, name: string): Promise<Pod> {
  return JSON.parse(await cp.kubectl(['get', 'pod', name, '-o', 'json'])) as Pod;
}

/** Waits (bounded) until the pod satisfies `ok`; on timeout shows its status, events and the kubelet log. */
async function waitPod(
  cp: ControlPlane,
  nodes: readonly Node[],
  name: string,
  what: string,
  ok: (p: Pod) => boolean,
  timeoutMs = 90_000,
): Promise<Pod> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pod = await getPod(cp, name);
    if (ok(pod)) return pod;
    if (Date.now() > deadline) {
      const events = await cp.kubectl(['get', 'events', '--field-selector', `involvedObject.name=${name}`]);
      const logs = nodes.map((n) => `kubelet ${n.name} (${n.kubeletLog}):\n${tail(n.kubeletLog, 20)}`);
      assert.fail(
        `pod ${name} not ${what} after ${String(timeoutMs / 1000)} s; status ${JSON.stringify(pod.status)}\nevents:\n${events}\n${logs.join('\n')}`,
      );
    }
    await sleep(250);
  }
}

async function waitEvent(
  cp: ControlPlane,
  pod: string,
  pattern: RegExp,
  timeoutMs = 60_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await cp.kubectl([
      'get',
      'events',
      '--field-selector',
      `involvedObject.name=${pod}`,
      '-o',
      'custom-columns=REASON:.reason,MESSAGE:.message',
    ]);
    const line = events.split('\n').find((l) => pattern.test(l));
    if (line !== undefined) return line;
    if (Date.now() > deadline)
      assert.fail(`no event matching ${String(pattern)} for pod ${pod}; events:\n${events}`);
    await sleep(250);
  }
}

function tail(file: string, n: number): string {
  return existsSync(file)
    ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n')
    : '(no log)';
}

/** Lets the default service account get a node identity the way the deployment kit's agents do. */
async function grantNodeClient(cp: ControlPlane): Promise<void> {
  const docs = [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'test-node-client' },
      rules: [
        {
          apiGroups: ['certificates.k8s.io'],
          resources: ['certificatesigningrequests'],
          verbs: ['create', 'get', 'watch', 'list'],
        },
        {
          apiGroups: ['certificates.k8s.io'],
          resources: ['certificatesigningrequests/nodeclient'],
          verbs: ['create'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'test-node-client' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'test-node-client' },
      subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'default' }],
    },
  ];
  await cp.kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs }),
  });
  await cp.waitForAccess('system:serviceaccount:default:default', {
    group: 'certificates.k8s.io',
    resource: 'certificatesigningrequests',
    subresource: 'nodeclient',
    verb: 'create',
  });
}

/** A pod running `node-attestor -in-cluster` that writes its identity into hostPath `dir`. */
function identityPod(name: string, image: string, node: string, dir: string): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': node },
      restartPolicy: 'Never',
      containers: [
        {
          name: 'node-attestor',
          image,
          imagePullPolicy: 'Never',
          args: [
            '-in-cluster',
            '-agent-name',
            node,
            '-id-dir',
            dir,
            '-wait',
            'poll',
            '-output',
            'json',
            '-timeout',
            '60s',
          ],
          // The identity directory's owner checks: root owns the node's /var/lib/spire.
          securityContext: { runAsUser: 0 },
          volumeMounts: [{ name: 'spire', mountPath: '/var/lib/spire' }],
        },
      ],
      volumes: [{ name: 'spire', hostPath: { path: '/var/lib/spire', type: 'Directory' } }],
    },
  };
}

function pausePod(name: string, node: string, hostPath?: string): unknown {
  const vol =
    hostPath === undefined ? undefined : { name: 'host', hostPath: { path: hostPath, type: 'Directory' } };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      nodeName: node,
      containers: [
        {
          name: 'pause',
          image: PAUSE_IMAGE,
          imagePullPolicy: 'Never',
          ...(vol !== undefined ? { volumeMounts: [{ name: 'host', mountPath: '/host' }] } : {}),
        },
      ],
      ...(vol !== undefined ? { volumes: [vol] } : {}),
    },
  };
}

/** Host PIDs of this node's container processes (the node's processes minus its own programs). */
function taskPids(node: Node): number[] {
  return node
    .nodeProcesses()
    .filter((p) => !['containerd', 'kubelet', 'containerd-shim'].includes(p.command))
    .map((p) => p.pid);
}

/**
 * Host PIDs of the pause processes on this node: each pod's sandbox, and the containers of
 * pausePod(). Unlike taskPids() it holds no runc or CNI plugin caught on its way out.
 */
function pausePids(node: Node): number[] {
  return node
    .nodeProcesses()
    .filter((p) => p.command === 'pause')
    .map((p) => p.pid);
}

/** Whether `pid` runs (a zombie does not: it is only waiting for its new parent to reap it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The pids still running after a bounded wait (SIGKILLed ones take a moment to go). */
async function stillRunning(pids: readonly number[], timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = pids.filter(alive);
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(100);
  }
}

/**
 * Whether bridge `name` still exists with this harness's tag. By exact name (na-br2 is a prefix of
 * na-br21), and ours only: another harness on the machine may claim the same name once ours is gone.
 */
function ourBridgeExists(name: string): boolean {
  return listBridges().some((b) => b.name === name && b.ownerPid === process.pid);
}

/** Whether bridge `name` exists, by exact name, whoever made it. */
function bridgeExists(name: string): boolean {
  return listBridges().some((b) => b.name === name);
}

/** What a stopped node must not leave: processes, container processes, bridge, mounts. */
async function assertGone(node: Node, containerPids: readonly number[]): Promise<void> {
  assert.deepEqual(await waitNoProcesses(node.dir), [], `processes of ${node.name} left`);
  assert.deepEqual(await stillRunning(containerPids), [], `container processes of ${node.name} left`);
  assert.ok(!ourBridgeExists(node.bridge.name), `bridge ${node.bridge.name} left`);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  assert.ok(!mounts.includes(node.dir), `mounts under ${node.dir} left in the host namespace`);
  assert.equal(existsSync(node.dir), false, `${node.dir} left`);
}

describe('a real node joined by TLS bootstrap', { timeout: 10 * 60_000 }, () => {
  let cluster: Cluster | undefined;
  let node!: Node;
  let cp!: ControlPlane;
  let image = '';

  before(
    async () => {
      const archive = await builtImageArchive('node-attestor');
      cluster = await startCluster({ nodes: 1 });
      cp = cluster.cp;
      node = cluster.nodes[0]!;
      [image = ''] = await node.importImages([archive]);
      await grantNodeClient(cp);
    },
    { timeout: 5 * 60_000 },
  );

  after(async () => {
    await cluster?.stop();
  });

  it('registers through TLS bootstrap: an auto-approved CSR from the bootstrap token, a system:node certificate, Ready', async () => {
    const csrs = JSON.parse(await cp.kubectl(['get', 'csr', '-o', 'json'])) as {
      items: {
        spec: { username: string; signerName: string; groups?: string[] };
        status: { conditions?: { type: string; reason?: string }[]; certificate?: string };
      }[];
    };
    const mine = csrs.items.filter((c) => c.spec.username === node.bootstrapToken.user);
    assert.equal(
      mine.length,
      1,
      `one CSR from ${node.bootstrapToken.user}: ${JSON.stringify(csrs.items.map((c) => c.spec.username))}`,
    );
    const csr = mine[0]!;
    assert.equal(csr.spec.signerName, 'kubernetes.io/kube-apiserver-client-kubelet');
    assert.ok(csr.spec.groups?.includes('system:bootstrappers'));
    const approved = csr.status.conditions?.find((c) => c.type === 'Approved');
    assert.equal(approved?.reason, 'AutoApproved', JSON.stringify(csr.status.conditions));
    assert.ok((csr.status.certificate ?? '') !== '', 'the CSR was signed');

    const cert = new X509Certificate(readFileSync(node.kubeletClientCertPath));
    assert.match(cert.subject, new RegExp(`^CN=system:node:${node.name}$`, 'm'));
    assert.match(cert.subject, /^O=system:nodes$/m);
    assert.ok(
      cert.checkIssued(new X509Certificate(readFileSync(cp.pki.caCertPath))),
      'signed by the cluster CA',
    );

    const nodes = await cp.kubectl(['get', 'nodes', '--no-headers']);
    assert.match(nodes, new RegExp(`^${node.name}\\s+Ready\\s`, 'm'));
    const addr = await cp.kubectl([
      'get',
      'node',
      node.name,
      '-o',
      'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}',
    ]);
    assert.equal(addr, node.bridge.gateway);
  });

  it('runs a pod from a local image on the node bridge; with its projected token it gets a node identity through the kubernetes Service; kubectl logs works', async () => {
    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(identityPod('ident-a', image, node.name, '/var/lib/spire/a')),
    });
    const pod = await waitPod(
      cp,
      [node],
      'ident-a',
      'Succeeded',
      (p) => p.status.phase === 'Succeeded' || p.status.phase === 'Failed',
    );
    const logs = await cp.kubectl(['logs', 'ident-a']);
    assert.equal(pod.status.phase, 'Succeeded', `pod failed; logs:\n${logs}`);
    assert.equal(pod.spec.nodeName, node.name);
    assert.ok(
      pod.status.podIP !== undefined && cidrsOverlap(`${pod.status.podIP}/32`, node.bridge.subnet),
      `pod IP ${String(pod.status.podIP)} in ${node.bridge.subnet}`,
    );
    assert.notEqual(pod.status.podIP, node.bridge.gateway);
    const result = JSON.parse(logs.split('\n').find((l) => l.startsWith('{')) ?? '{}') as {
      status?: string;
      nodeName?: string;
      certPath?: string;
    };
    assert.equal(result.status, 'issued', logs);
    assert.equal(result.nodeName, node.name);
    // The CSR came from the pod's service account: its token was mounted and sent.
    const csrs = await cp.kubectl(['get', 'csr', '-o', 'jsonpath={.items[*].spec.username}']);
    assert.ok(csrs.split(' ').includes('system:serviceaccount:default:default'), csrs);
    // The identity landed in the node's own /var/lib/spire, nowhere else.
    const crt = new X509Certificate(readFileSync(node.hostPath('/var/lib/spire/a/id-doc.crt')));
    assert.match(crt.subject, new RegExp(`^CN=system:node:${node.name}$`, 'm'));
    assert.equal(existsSync('/var/lib/spire/a'), false, 'not on the host');
  });

  it('keeps the Node Ready and its pods running across a kubelet restart', async () => {
    await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pausePod('sleeper', node.name)) });
    const before = await waitPod(cp, [node], 'sleeper', 'Running', (p) => p.status.phase === 'Running');
    const pidsBefore = pausePids(node);
    assert.ok(pidsBefore.length >= 2, `a sandbox and a container: ${String(pidsBefore)}`);
    const lease = async (): Promise<string> =>
      cp.kubectl(['get', 'lease', '-n', 'kube-node-lease', node.name, '-o', 'jsonpath={.spec.renewTime}']);
    const restartedAt = Date.now();
    await node.restartKubelet();
    // The new kubelet is up when it answers /healthz and has renewed its lease since the restart.
    const deadline = Date.now() + 60_000;
    for (;;) {
      let healthy = false;
      try {
        healthy = (await fetch(`http://127.0.0.1:${String(node.healthzPort)}/healthz`)).ok;
      } catch {
        // not listening yet
      }
      if (healthy && Date.parse(await lease()) > restartedAt) break;
      if (Date.now() > deadline) assert.fail(`kubelet not back after restart:\n${tail(node.kubeletLog, 30)}`);
      await sleep(250);
    }
    await node.waitReady(30_000);
    const after = await waitPod(cp, [node], 'sleeper', 'Running', (p) => p.status.phase === 'Running');
    assert.equal(
      after.status.containerStatuses?.[0]?.containerID,
      before.status.containerStatuses?.[0]?.containerID,
    );
    assert.equal(after.status.containerStatuses?.[0]?.restartCount, 0);
    const pidsAfter = pausePids(node);
    for (const pid of pidsBefore)
      assert.ok(pidsAfter.includes(pid) && alive(pid), `task ${String(pid)} still running`);
  });

  it("answers on <node IP>:<kubeletPort> with a cluster-CA-signed certificate, to a service account's token as RBAC allows (SPIRE's k8s workload attestor's path)", async () => {
    await cp.kubectl(['create', 'serviceaccount', 'reader']);
    await cp.kubectl(['create', 'serviceaccount', 'stranger']);
    await cp.kubectl([
      'create',
      'clusterrole',
      'kubelet-pods-reader',
      '--verb=get',
      '--resource=nodes/proxy',
    ]);
    await cp.kubectl([
      'create',
      'clusterrolebinding',
      'kubelet-pods-reader',
      '--clusterrole=kubelet-pods-reader',
      '--serviceaccount=default:reader',
    ]);
    await cp.waitForAccess('system:serviceaccount:default:reader', {
      resource: 'nodes',
      subresource: 'proxy',
      verb: 'get',
    });
    const ca = readFileSync(cp.pki.caCertPath);
    const podsAs = async (sa: string): Promise<HttpResult> => {
      const token = (await cp.kubectl(['create', 'token', sa])).trim();
      return httpRequestText(`https://${node.bridge.gateway}:${String(node.kubeletPort)}/pods`, {
        tls: { ca },
        headers: { Authorization: `Bearer ${token}` },
        timeoutMs: 10_000,
      });
    };
    // The kubelet lists the pods its API watch gave it; just after a restart that takes a moment.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const allowed = await podsAs('reader');
      assert.equal(allowed.status, 200, allowed.body);
      const items =
        (JSON.parse(allowed.body) as { items: { metadata: { name: string } }[] | null }).items ?? [];
      if (items.some((i) => i.metadata.name === 'sleeper')) break;
      if (Date.now() > deadline) assert.fail(`the kubelet does not list pod sleeper: ${allowed.body}`);
      await sleep(250);
    }
    const refused = await podsAs('stranger');
    assert.equal(refused.status, 403, refused.body);
  });

  it('kubectl exec runs a command in a container (API server → kubelet → containerd stream)', async () => {
    const out = await cp.kubectl(['exec', 'sleeper', '--', '/pause', '-v']);
    assert.equal(out, 'pause (node-attestor test harness)\n');
  });

  it('stops without leaving a process, container, bridge, address or mount', async () => {
    const pids = taskPids(node);
    assert.ok(pids.length > 0);
    const service = cp.service!;
    await cluster!.stop();
    await assertGone(node, pids);
    assert.ok(!onLo(service.ip), `${service.ip} left on lo`);
    assert.deepEqual(await waitNoProcesses(cp.dir), []);
  });
});

describe('two real nodes', { timeout: 10 * 60_000 }, () => {
  let cluster: Cluster | undefined;

  after(async () => {
    await cluster?.stop();
  });

  it('both join with their own root, bridge and ports; a pod pinned to each runs there; hostPath dirs are per node', async () => {
    const archive = await builtImageArchive('node-attestor');
    cluster = await startCluster({ nodes: 2, images: [archive] });
    const { cp, nodes } = cluster;
    const [a, b] = nodes as [Node, Node];
    assert.notEqual(a.dir, b.dir);
    assert.notEqual(a.bridge.name, b.bridge.name);
    assert.equal(cidrsOverlap(a.bridge.subnet, b.bridge.subnet), false);
    // One kubelet port for the cluster, each kubelet on its own node IP (as 10250 on real nodes).
    assert.equal(a.kubeletPort, b.kubeletPort);
    assert.notEqual(a.bridge.gateway, b.bridge.gateway);
    const ready = await cp.kubectl(['get', 'nodes', '--no-headers']);
    for (const n of nodes) assert.match(ready, new RegExp(`^${n.name}\\s+Ready\\s`, 'm'));
    const image = criImageName(imageRef(archive)); // imported on both nodes by startCluster
    await grantNodeClient(cp);

    // Node A: a pod writes its identity into hostPath /var/lib/spire/x.
    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(identityPod('ident-x', image, a.name, '/var/lib/spire/x')),
    });
    const done = await waitPod(
      cp,
      nodes,
      'ident-x',
      'Succeeded',
      (p) => p.status.phase === 'Succeeded' || p.status.phase === 'Failed',
    );
    assert.equal(done.status.phase, 'Succeeded', await cp.kubectl(['logs', 'ident-x']));
    assert.equal(done.spec.nodeName, a.name);
    assert.ok(cidrsOverlap(`${done.status.podIP ?? ''}/32`, a.bridge.subnet));
    assert.ok(existsSync(a.hostPath('/var/lib/spire/x/id-doc.crt')));

    // Node B: a pod pinned there runs, on B's bridge; /var/lib/spire/x does not exist for it.
    await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pausePod('on-b', b.name)) });
    const onB = await waitPod(cp, nodes, 'on-b', 'Running', (p) => p.status.phase === 'Running');
    assert.ok(
      cidrsOverlap(`${onB.status.podIP ?? ''}/32`, b.bridge.subnet),
      `${String(onB.status.podIP)} in ${b.bridge.subnet}`,
    );
    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(pausePod('x-on-b', b.name, '/var/lib/spire/x')),
    });
    const line = await waitEvent(cp, 'x-on-b', /FailedMount.*\/var\/lib\/spire\/x/);
    assert.match(line, /hostPath type check failed, \/var\/lib\/spire\/x is not a directory.*does not exist/);
    assert.deepEqual(readdirSync(b.hostPath('/var/lib/spire')), []);
    assert.equal(existsSync('/var/lib/spire/x'), false, 'not on the host');

    const pids = [...taskPids(a), ...taskPids(b)];
    assert.ok(taskPids(b).length > 0, 'node B runs on-b (node A’s pod has finished)');
    await cluster.stop();
    for (const n of nodes) await assertGone(n, []);
    assert.deepEqual(await stillRunning(pids), [], 'container processes left');
  });
});

describe('two clusters with a node each, started at once', { timeout: 5 * 60_000 }, () => {
  it('pick different Service addresses, bridges and subnets, and both nodes get Ready', async () => {
    const started = await Promise.allSettled([startCluster({ nodes: 1 }), startCluster({ nodes: 1 })]);
    const clusters = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    try {
      for (const r of started) if (r.status === 'rejected') throw r.reason;
      const [x, y] = clusters as [Cluster, Cluster];
      assert.notEqual(x.cp.service?.ip, y.cp.service?.ip);
      const [nx, ny] = [x.nodes[0]!, y.nodes[0]!];
      assert.notEqual(nx.bridge.name, ny.bridge.name);
      assert.equal(cidrsOverlap(nx.bridge.subnet, ny.bridge.subnet), false);
      for (const c of clusters)
        assert.match(await c.cp.kubectl(['get', 'nodes', '--no-headers']), /^node-a\s+Ready\s/m);
    } finally {
      await Promise.all(clusters.map((c) => c.stop()));
    }
  });
});

/** What test/e2e/support/hold-node.ts made and printed (one JSON line). */
interface HeldNode {
  cpDir: string;
  nodeDir: string;
  bridge: string;
  serviceIp: string;
  pids: number[];
}

/** The held node's and control plane's processes, and the pod's, are gone. */
async function assertHeldProcessesGone(made: HeldNode): Promise<void> {
  assert.deepEqual(await waitNoProcesses(made.nodeDir), []);
  assert.deepEqual(await waitNoProcesses(made.cpDir), []);
  assert.deepEqual(await stillRunning(made.pids), [], 'container processes left');
}

/** The holder keeps its dirs (for a failure's logs); the test removes them once read. */
function removeHeldDirs(made: HeldNode): void {
  rmSync(made.nodeDir, { recursive: true, force: true });
  rmSync(made.cpDir, { recursive: true, force: true });
}

/** Whether `ip`/32 is on the loopback interface. */
function onLo(ip: string): boolean {
  return execFileSync('ip', ['-br', 'addr', 'show', 'lo'], { encoding: 'utf8' }).includes(`${ip}/32`);
}

describe('a node whose test fails midway', { timeout: 5 * 60_000 }, () => {
  it('leaves no process, container, bridge or address when the test process dies of an uncaught error', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/e2e/support/hold-node.ts', 'fail'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const closed = new Promise<void>((resolve) =>
      child.once('close', () => {
        resolve();
      }),
    );
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    // 'exit' can come before the pipes are drained, and the stack trace is the child's last
    // write; bounded, in case a leftover process (the defect this test looks for) holds a pipe.
    await Promise.race([closed, sleep(10_000)]);
    const line = out.split('\n').find((l) => l.startsWith('{'));
    assert.ok(line !== undefined, `the child printed nothing (exit ${String(code)}):\n${err}`);
    const made = JSON.parse(line) as HeldNode;
    try {
      assert.equal(code, 1);
      assert.match(err, /simulated test failure with a node running/);
      await assertHeldProcessesGone(made);
      assert.ok(!bridgeExists(made.bridge), `bridge ${made.bridge} left`);
      assert.ok(!onLo(made.serviceIp), `${made.serviceIp} left on lo`);
      assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(made.nodeDir), 'mounts left');
    } finally {
      // The dirs are kept on a failure, for its logs; this test has read what it needs.
      removeHeldDirs(made);
    }
  });
});

describe('a node whose test process is SIGKILLed', { timeout: 5 * 60_000 }, () => {
  it('leaves no process or container; the next harness removes its bridge and lo address', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/e2e/support/hold-node.ts', 'hold'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<unknown>((resolve) => child.once('exit', resolve));
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const l = out.split('\n').find((x) => x.startsWith('{') && out.includes('}\n'));
        if (l !== undefined) resolve(l);
      });
      child.once('exit', (code) => {
        reject(new Error(`the holder exited early (${String(code)}):\n${err}`));
      });
    });
    const made = JSON.parse(line) as HeldNode;
    try {
      assert.ok(made.pids.length >= 2 && made.pids.every(alive), 'the pod runs');
      child.kill('SIGKILL');
      await exited;
      // containerd and the kubelet die by their pdeathsig; the shims and containers with
      // containerd's PID namespace.
      await assertHeldProcessesGone(made);
      // No hook ran: the bridge and the address are still there, tagged with the dead PID.
      assert.ok(bridgeExists(made.bridge));
      const removed = reapStaleHostNet();
      assert.ok(removed.includes(made.bridge), JSON.stringify(removed));
      assert.ok(removed.includes(`${made.serviceIp} on lo`), JSON.stringify(removed));
      assert.ok(!bridgeExists(made.bridge));
      assert.ok(!onLo(made.serviceIp));
      assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(made.nodeDir), 'mounts left');
    } finally {
      child.kill('SIGKILL');
      removeHeldDirs(made);
    }
  });
});

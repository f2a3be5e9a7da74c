/**
 * Pod certificates on real nodes: the kit with its pod-certificate component (deploy/pod-cert/)
 * applied with `kubectl apply -k` to a harness cluster with two real nodes (kubelet + containerd,
 * NodeRestriction on: test/harness/node.ts), through the local overlay
 * (test/harness/deploy-pod-cert.ts). Nothing here creates a PodCertificateRequest: each kubelet
 * does, for the agent pod on its node, from the pod's podCertificate volume.
 *
 * - the kubelet creates the request, `node-attestor signer` (a Deployment) issues it, the agent
 *   pod starts with the bundle, spire-agent attests with k8s_pod_cert and is listed as
 *   spiffe://<td>/spire/agent/k8s_pod_cert/<cluster>/<node UID>, with its pod's selectors;
 * - no CertificateSigningRequest appears after the apply, the agents may create none, and their
 *   pods carry no Secret (no bootstrap credential);
 * - a pod of another service account asking for this signer is denied (ServiceAccountNotAllowed)
 *   and never starts;
 * - node B deleted and created again (new UID): its agent's old certificate no longer attests.
 *
 * Figures (agent pod created -> request -> issued -> container started -> attested) are printed
 * as diagnostics.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../harness/bins.js';
import { KIT_NAMESPACE as NS, kitImage, writeLocalOverlay } from '../harness/deploy-kit.js';
import {
  SIGNER_CA_BUNDLE_CONFIGMAP,
  SIGNER_CA_SECRET,
  SIGNER_DEPLOYMENT,
  writeLocalPodCertOverlay,
} from '../harness/deploy-pod-cert.js';
import type { Node } from '../harness/node.js';
import { freePort } from '../harness/ports.js';
import type { AttestedAgent } from '../harness/spire.js';
import { createCa, type TestCert } from '../support/pki.js';
import { isReady, startKitCluster, type KitCluster, type PodJson } from './support/kit-cluster.js';
import { SIGNER, podCertVolume } from './support/pod-cert-cluster.js';

const CLUSTER = 'local';
const TRUST_DOMAIN = 'example.org';
/** apply -k -> both agents attested, on this 2-core machine shared with others. */
const ATTESTED_BOUND_MS = 240_000;
const HOUR = 3_600_000;
/** The signer's -refresh-after here, in minutes (10: the API's minimum). */
const REFRESH_AFTER_MIN = 10;
/** The kubelet renews at beginRefreshAt plus up to 5 minutes of jitter. */
const KUBELET_JITTER_MS = 5 * 60_000;

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}
interface Pcr {
  metadata: { name: string; creationTimestamp: string; managedFields?: { manager?: string }[] };
  spec: { podName: string; podUID: string; nodeName: string; nodeUID: string; serviceAccountName: string };
  status?: {
    conditions?: Condition[];
    certificateChain?: string;
    notBefore?: string;
    beginRefreshAt?: string;
    notAfter?: string;
  };
}
interface CsrJson {
  metadata: { name: string; creationTimestamp: string };
  spec: { username?: string; signerName?: string };
}

describe('pod certificates on two real nodes: the kit with deploy/pod-cert', { timeout: 45 * 60_000 }, () => {
  let kit: KitCluster;
  let overlay: string;
  let ca: TestCert;
  /** Wall-clock time of the apply (API timestamps are wall-clock, whole seconds). */
  let appliedWall = 0;
  let deployed = false;
  const needDeployed = (): void => {
    if (!deployed) throw new Error('the kit is not deployed: see the first test');
  };

  const kubectl = (args: readonly string[]): Promise<string> => kit.kubectl(args);
  const until = <T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> =>
    kit.until(what, ms, check);
  const nodeUid = async (name: string): Promise<string> =>
    (await kubectl(['get', 'node', name, '-o', 'jsonpath={.metadata.uid}'])).trim();
  const agentPath = (uid: string): string => `/spire/agent/k8s_pod_cert/${CLUSTER}/${uid}`;
  const pcrs = async (): Promise<Pcr[]> =>
    (
      JSON.parse(
        await kubectl(['get', 'podcertificaterequests', '-n', NS, '-o', 'json', '--show-managed-fields']),
      ) as { items: Pcr[] }
    ).items;
  const condition = (p: Pcr, type: string): Condition | undefined =>
    p.status?.conditions?.find((c) => c.type === type && c.status === 'True');
  const nodeNamed = (name: string): Node => {
    const n = kit.nodes.find((x) => x.name === name);
    assert.ok(n !== undefined, name);
    return n;
  };

  /** The operator's two steps before the apply (docs/pod-certificates.md, "Deploy"). */
  const createSignerCa = async (): Promise<void> => {
    const dir = dirname(overlay);
    writeFileSync(join(dir, 'ca.crt'), ca.pem);
    writeFileSync(join(dir, 'ca.key'), ca.key.privateKeyPem);
    await kubectl([
      'create',
      'secret',
      'generic',
      '-n',
      NS,
      SIGNER_CA_SECRET,
      `--from-file=ca.crt=${join(dir, 'ca.crt')}`,
      `--from-file=ca.key=${join(dir, 'ca.key')}`,
    ]);
    await kubectl([
      'create',
      'configmap',
      '-n',
      NS,
      SIGNER_CA_BUNDLE_CONFIGMAP,
      `--from-file=ca.crt=${join(dir, 'ca.crt')}`,
    ]);
  };

  before(async () => {
    kit = await startKitCluster({ clusterName: CLUSTER, trustDomain: TRUST_DOMAIN });
    const pluginChecksum =
      readFileSync(join(REPO_ROOT, 'dist', 'node-attestor.sha256'), 'utf8').split(/\s/)[0] ?? '';
    overlay = writeLocalPodCertOverlay({
      dir: join(dirname(kit.overlay), 'pod-cert-overlay'),
      clusterName: CLUSTER,
      trustDomain: TRUST_DOMAIN,
      serverPort: await freePort(),
      pluginChecksum,
      nodes: kit.nodes.map((n) => ({ name: n.name, kubeletPort: n.kubeletPort })),
      // The shortest refresh the API allows (10 minutes after issue), and agents that rotate
      // their SVID, and so re-attest, every minute: the rotation test sees both in minutes.
      signerArgs: [`-refresh-after=${String(REFRESH_AFTER_MIN)}m`],
      agentTtl: '2m',
    });
    // Published long enough for the signer's default -ca-publish-delay (1h from notBefore).
    ca = await createCa('CN=node-attestor signer CA', { notBefore: new Date(Date.now() - 2 * HOUR) });
  });

  after(async () => {
    await kit.stop();
  });

  it('kubectl apply -k: each kubelet asks, the signer issues, each agent attests with k8s_pod_cert', async (t) => {
    await kubectl(['create', 'namespace', NS]);
    await createSignerCa();
    appliedWall = Math.floor(Date.now() / 1000) * 1000;
    const t0 = performance.now();
    await kubectl(['apply', '-k', overlay]);
    const uids = new Map<string, string>();
    for (const n of kit.nodes) uids.set(n.name, await nodeUid(n.name));
    const seenAt = new Map<string, number>();
    await until(
      'both agents in spire-server agent list as k8s_pod_cert/<cluster>/<node uid>',
      ATTESTED_BOUND_MS,
      async () => {
        const ids = new Set((await kit.agents()).map((a) => a.id.path));
        for (const [name, uid] of uids)
          if (ids.has(agentPath(uid)) && !seenAt.has(name)) seenAt.set(name, Date.now());
        return seenAt.size === uids.size ? true : undefined;
      },
    );
    t.diagnostic(
      `apply -k -> both agents attested with k8s_pod_cert: ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    const requests = await pcrs();
    const agents = await kit.agents();
    for (const n of kit.nodes) {
      const pod = await kit.agentPod(n.name);
      assert.ok(pod !== undefined, `no agent pod on ${n.name}`);
      const uid = uids.get(n.name) ?? '';
      // The kubelet's request for this pod, with the node and pod the API server vouched for.
      const mine = requests.filter((r) => r.spec.podUID === pod.metadata.uid);
      assert.equal(mine.length, 1, `requests for ${pod.metadata.name}: ${JSON.stringify(mine)}`);
      const [req] = mine;
      assert.ok(req !== undefined);
      assert.equal(req.spec.nodeName, n.name);
      assert.equal(req.spec.nodeUID, uid);
      assert.equal(req.spec.serviceAccountName, 'spire-agent');
      // Field managers: the kubelet created it, the signer (its User-Agent) answered it.
      const managers = (req.metadata.managedFields ?? []).map((f) => f.manager);
      assert.ok(managers.includes('kubelet'), `field managers: ${managers.join(', ')}`);
      assert.ok(managers.includes('node-attestor-signer'), `field managers: ${managers.join(', ')}`);
      const issued = condition(req, 'Issued');
      assert.ok(issued !== undefined, JSON.stringify(req.status));
      assert.match(req.status?.certificateChain ?? '', /BEGIN CERTIFICATE/);

      const agent = agents.find((a: AttestedAgent) => a.id.path === agentPath(uid));
      assert.ok(agent !== undefined);
      assert.equal(agent.id.trust_domain, TRUST_DOMAIN);
      assert.equal(agent.attestation_type, 'k8s_pod_cert');
      assert.equal(agent.can_reattest, true);
      const selectors = agent.selectors.map((s) => `${s.type}:${s.value}`);
      for (const s of [
        `k8s_pod_cert:cluster:${CLUSTER}`,
        `k8s_pod_cert:agent_node_name:${n.name}`,
        `k8s_pod_cert:agent_node_uid:${uid}`,
        `k8s_pod_cert:agent_pod_uid:${pod.metadata.uid}`,
        `k8s_pod_cert:agent_pod_name:${NS}/${pod.metadata.name}`,
        `k8s_pod_cert:agent_service_account:${NS}/spire-agent`,
      ])
        assert.ok(selectors.includes(s), `${s} not in ${selectors.join(', ')}`);

      // Where the time goes (API timestamps: whole seconds).
      const full = JSON.parse(
        await kubectl(['get', 'pod', '-n', NS, pod.metadata.name, '-o', 'json']),
      ) as PodJson & {
        metadata: { creationTimestamp: string };
        status: { containerStatuses?: { state?: { running?: { startedAt?: string } } }[] };
      };
      const created = Date.parse(full.metadata.creationTimestamp);
      const at = (iso: string | undefined): string =>
        iso === undefined ? '?' : `${((Date.parse(iso) - created) / 1000).toFixed(0)} s`;
      t.diagnostic(
        `${n.name}: agent pod created -> request created ${at(req.metadata.creationTimestamp)} -> issued ${at(issued.lastTransitionTime)} -> ` +
          `container started ${at(full.status.containerStatuses?.[0]?.state?.running?.startedAt)} -> ` +
          `attested (seen) ${(((seenAt.get(n.name) ?? NaN) - created) / 1000).toFixed(1)} s; container restarts ${String(pod.status.containerStatuses?.[0]?.restartCount)}`,
      );
    }
    deployed = true;
  });

  it('no CertificateSigningRequest and no bootstrap credential in that flow', async () => {
    needDeployed();
    // The nodes' own TLS bootstrap CSRs predate the apply; nothing may have asked since.
    const csrs = (JSON.parse(await kubectl(['get', 'csr', '-o', 'json'])) as { items: CsrJson[] }).items;
    const since = csrs.filter((c) => Date.parse(c.metadata.creationTimestamp) >= appliedWall);
    assert.deepEqual(
      since.map((c) => `${c.metadata.name} by ${String(c.spec.username)}`),
      [],
      'CSRs created after the apply',
    );
    assert.deepEqual(
      csrs
        .filter((c) => c.spec.username?.startsWith('system:serviceaccount:') === true)
        .map((c) => c.metadata.name),
      [],
      'CSRs created by a service account',
    );
    // The agents cannot create one, and no approver runs.
    const canI = await kit.kubectlRaw([
      'auth',
      'can-i',
      'create',
      'certificatesigningrequests.certificates.k8s.io',
      `--as=system:serviceaccount:${NS}:spire-agent`,
    ]);
    assert.equal(canI.stdout.trim(), 'no', canI.stdout + canI.stderr);
    const deployments = await kubectl([
      'get',
      'deployments',
      '-n',
      NS,
      '-o',
      'jsonpath={.items[*].metadata.name}',
    ]);
    assert.equal(deployments.trim(), SIGNER_DEPLOYMENT);
    // No Secret reaches an agent pod: its only credentials are the kubelet-written pod
    // certificate and its own pod-bound token (for the kubelet's pod list).
    for (const n of kit.nodes) {
      const pod = (await kit.agentPod(n.name)) as
        (PodJson & { spec: { volumes?: Record<string, unknown>[] } }) | undefined;
      assert.ok(pod !== undefined);
      const volumes = pod.spec.volumes ?? [];
      assert.deepEqual(
        volumes.filter((v) => 'secret' in v || JSON.stringify(v).includes('"secret"')).map((v) => v.name),
        [],
      );
      assert.ok(JSON.stringify(volumes).includes(`"signerName":"${SIGNER}"`), JSON.stringify(volumes));
    }
  });

  it('a pod of another service account asking for this signer is denied and never starts', async (t) => {
    needDeployed();
    const node = kit.nodes[0];
    assert.ok(node !== undefined);
    await kubectl(['create', 'serviceaccount', '-n', NS, 'intruder']);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'intruder', namespace: NS },
      spec: {
        serviceAccountName: 'intruder',
        nodeSelector: { 'kubernetes.io/hostname': node.name },
        containers: [
          {
            name: 'c',
            image: kitImage('spire-agent'),
            imagePullPolicy: 'Never',
            command: ['/opt/spire/bin/spire-agent'],
            args: ['api', 'watch', '-socketPath', '/nonexistent.sock'],
            volumeMounts: [{ name: 'pod-cert', mountPath: '/var/run/secrets/node-attestor/pod-cert' }],
          },
        ],
        volumes: [podCertVolume()],
      },
    };
    await kit.cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod) });
    const denied = await until("the intruder pod's request to be Denied", 120_000, async () => {
      const r = (await pcrs()).find((p) => p.spec.podName === 'intruder');
      return r === undefined ? undefined : condition(r, 'Denied');
    });
    assert.equal(denied.reason, 'ServiceAccountNotAllowed', JSON.stringify(denied));
    t.diagnostic(`Denied ${denied.reason}: ${String(denied.message)}`);
    const p = JSON.parse(await kubectl(['get', 'pod', '-n', NS, 'intruder', '-o', 'json'])) as PodJson;
    assert.notEqual(p.status.phase, 'Running', JSON.stringify(p.status));
    assert.ok(!isReady(p));
    assert.equal(
      p.status.containerStatuses?.some((c) => c.containerID !== undefined) === true,
      false,
      JSON.stringify(p.status),
    );
    await kubectl(['delete', 'pod', '-n', NS, 'intruder', '--wait=false']);
  });

  it('agent start -> SVID in the same cluster: k8s_csr, join_token, k8s_pod_cert (figures)', async (t) => {
    needDeployed();
    const pluginChecksum =
      readFileSync(join(REPO_ROOT, 'dist', 'node-attestor.sha256'), 'utf8').split(/\s/)[0] ?? '';
    const joinTokenOverlay = writeLocalOverlay({
      dir: join(dirname(kit.overlay), 'join-token-overlay'),
      clusterName: CLUSTER,
      trustDomain: TRUST_DOMAIN,
      serverPort: await freePort(),
      pluginChecksum,
      nodes: kit.nodes.map((n) => ({ name: n.name, kubeletPort: n.kubeletPort })),
      nodeAttestor: 'join_token',
    });
    const runs: [string, string][] = [
      ['k8s_csr', kit.overlay],
      ['join_token', joinTokenOverlay],
      ['k8s_pod_cert', overlay],
    ];
    for (const [attestor, dir] of runs) {
      // A clean slate each time: a new spire-server (its data on an emptyDir), new agent pods.
      const del = await kit.kubectlRaw(['delete', 'namespace', NS, '--wait=true', '--timeout=180s'], 200_000);
      assert.equal(del.code, 0, del.stderr);
      await kubectl(['create', 'namespace', NS]);
      if (attestor === 'k8s_pod_cert') await createSignerCa();
      const t0 = performance.now();
      await kubectl(['apply', '-k', dir]);
      if (attestor === 'join_token') {
        // The operator's steps (as deploy-floor.test.ts): a token per node from the running server.
        await kit.giveJoinTokens(ATTESTED_BOUND_MS);
      }
      await until(`both agents attested with ${attestor}`, ATTESTED_BOUND_MS, async () =>
        (await kit.agents()).filter((a) => a.attestation_type === attestor).length === kit.nodes.length
          ? true
          : undefined,
      );
      const attestedWall = Date.now();
      const all = performance.now() - t0;
      // The agent pods that attested: the newest per node (join_token's set env replaced them).
      const created = (await kit.pods())
        .filter((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'spire-agent')
        .map((p) => Date.parse((p.metadata as { creationTimestamp?: string }).creationTimestamp ?? ''));
      const lastCreated = Math.max(...created);
      t.diagnostic(
        `${attestor}: apply -k -> both agents attested ${(all / 1000).toFixed(1)} s` +
          `${attestor === 'join_token' ? ' (with the token steps)' : ''}; ` +
          `last agent pod created -> both attested ${((attestedWall - lastCreated) / 1000).toFixed(1)} s (pod timestamps: whole seconds)`,
      );
    }
  });

  it("node B deleted and created again (new UID): its agent's old certificate no longer attests", async (t) => {
    needDeployed();
    const b = kit.nodes[1];
    assert.ok(b !== undefined);
    const nodeB = nodeNamed(b.name);
    const oldUid = await nodeUid(nodeB.name);
    const pod = await kit.agentPod(nodeB.name);
    const id = pod?.status.containerStatuses?.[0]?.containerID?.replace(/^containerd:\/\//, '');
    assert.ok(pod !== undefined && id !== undefined);
    const node = JSON.parse(await kubectl(['get', 'node', nodeB.name, '-o', 'json'])) as {
      metadata: { labels?: Record<string, string> };
    };
    await kubectl(['delete', 'node', nodeB.name, '--wait=true']);
    // Created again at once (before the pod garbage collector's quarantine of orphaned pods
    // ends), so the agent pod and its certificate, naming the old UID, stay.
    await kit.cp.kubectl(['create', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: nodeB.name, labels: node.metadata.labels ?? {} },
      }),
    });
    const newUid = await nodeUid(nodeB.name);
    assert.notEqual(newUid, oldUid);
    // Make B's agent attest now: its container killed, the kubelet starts it again with the same
    // volume (the old certificate) and no agent key (KeyManager "memory").
    await nodeB.ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]);
    const line = `node ${nodeB.name} in cluster ${CLUSTER} has UID ${newUid}, but the certificate names UID ${oldUid}`;
    const seen = await until(`spire-server to log "${line}"`, 180_000, async () =>
      (await kit.podLogs('spire-server-0')).split('\n').find((l) => l.includes(line)),
    );
    t.diagnostic(seen);
    const ids = (await kit.agents()).map((a) => a.id.path);
    assert.ok(!ids.includes(agentPath(newUid)), ids.join(', '));
  });
  it("rotation: the kubelet renews at beginRefreshAt and node A's agent re-attests with the new certificate, not restarted", async (t) => {
    needDeployed();
    const a = kit.nodes[0];
    assert.ok(a !== undefined);
    const pod = await kit.agentPod(a.name);
    assert.ok(pod !== undefined);
    const restarts = pod.status.containerStatuses?.[0]?.restartCount;
    const ofPod = async (): Promise<Pcr[]> =>
      (await pcrs())
        .filter((r) => r.spec.podUID === pod.metadata.uid && condition(r, 'Issued') !== undefined)
        .sort((x, y) => Date.parse(x.metadata.creationTimestamp) - Date.parse(y.metadata.creationTimestamp));
    const [first] = await ofPod();
    assert.ok(first !== undefined, 'no issued request for the agent pod');
    const refreshAt = Date.parse(first.status?.beginRefreshAt ?? '');
    assert.equal(
      refreshAt - Date.parse(first.status?.notBefore ?? ''),
      REFRESH_AFTER_MIN * 60_000,
      'beginRefreshAt is -refresh-after past notBefore',
    );
    const serialOf = (r: Pcr): string => {
      const pem = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(
        r.status?.certificateChain ?? '',
      )?.[0];
      assert.ok(pem !== undefined);
      return new X509Certificate(pem).serialNumber.toLowerCase().replace(/^(00)+(?=.)/, '');
    };
    const uid = await nodeUid(a.name);
    const serialSelector = async (): Promise<string | undefined> =>
      (await kit.agents())
        .find((x) => x.id.path === agentPath(uid))
        ?.selectors.find((x) => x.type === 'k8s_pod_cert' && x.value.startsWith('serialnumber:'))
        ?.value.slice('serialnumber:'.length);
    assert.equal(await serialSelector(), serialOf(first), "the agent's selector names the first certificate");
    t.diagnostic(
      `first certificate issued ${String(first.status?.notBefore)}, beginRefreshAt ${String(first.status?.beginRefreshAt)}`,
    );

    // Bounded by beginRefreshAt, the kubelet's jitter and two minutes for its request to be answered.
    const bound = Math.max(refreshAt - Date.now(), 0) + KUBELET_JITTER_MS + 2 * 60_000;
    const renewed = await until(`the kubelet's second request for ${pod.metadata.name}`, bound, async () => {
      const all = await ofPod();
      return all.length >= 2 ? all[all.length - 1] : undefined;
    });
    const renewedAt = Date.parse(renewed.metadata.creationTimestamp);
    assert.ok(
      renewedAt >= refreshAt,
      `renewed at ${renewed.metadata.creationTimestamp}, before beginRefreshAt`,
    );
    t.diagnostic(
      `kubelet renewed at ${renewed.metadata.creationTimestamp} (${((renewedAt - refreshAt) / 1000).toFixed(0)} s after beginRefreshAt)`,
    );
    const next = serialOf(renewed);
    assert.notEqual(next, serialOf(first));
    // The agent's next re-attestation (it rotates every minute) reads the new file.
    await until("node A's agent re-attested with the renewed certificate", 3 * 60_000, async () =>
      (await serialSelector()) === next ? true : undefined,
    );
    const later = await kit.agentPod(a.name);
    assert.ok(later !== undefined);
    assert.equal(later.metadata.uid, pod.metadata.uid, 'the same agent pod');
    assert.equal(later.status.containerStatuses?.[0]?.restartCount, restarts, 'the agent was not restarted');
  });
});

/**
 * The PodCertificateRequest signer against a real control plane (kube-apiserver v1.37.2 with the
 * NodeRestriction admission plugin), exactly as a kubelet uses it but without one: Nodes and Pods
 * bound to them by spec.nodeName (they never run) that mount a podCertificate volume from this
 * signer (NodeRestriction requires it), a client certificate for system:node:<name>
 * in system:nodes, and PodCertificateRequests created with it. The signer runs as users ship it
 * (dist/node-attestor signer) with the RBAC of k8s-configs/signer/ and its CA in a Secret. Then a
 * real spire-server and spire-agent attest with k8s_pod_cert from a credential bundle written
 * from an issued certificate (what the kubelet would write into the agent's pod).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../harness/bins.js';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import type { UserCredential } from '../harness/cluster-pki.js';
import { httpRequestText, type HttpResult } from '../harness/http-request.js';
import { ManagedProcess } from '../harness/processes.js';
import { ourPlugin, startSpireAgent, startSpireServer, type SpireServer } from '../harness/spire.js';
import { createCa, createNodeClientCert, type TestCert, type TestKey } from '../support/pki.js';
import { withCertificateReader } from '../../src/attestation/chain/certificate.js';
import { checkPodCertProfile } from '../../src/attestation/pod-cert-profile.js';
import { CLI } from './support/cli.js';
import { PCRS, SIGNER, createPcrAs, podWithPodCertVolume, stubRequest } from './support/pod-cert-cluster.js';

const NS = 'spire';
const SIGNER_USER = 'system:serviceaccount:spire:node-attestor-signer';
const DIST = join(REPO_ROOT, 'dist');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Pcr {
  metadata: { name: string; namespace: string; uid: string };
  spec: Record<string, unknown>;
  status?: {
    conditions?: { type: string; status: string; reason: string; message: string }[];
    certificateChain?: string;
    notBefore?: string;
    beginRefreshAt?: string;
    notAfter?: string;
  };
}

/** Polls `check` until it gives a value; on timeout fails with what `describe` says was seen. */
async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  describeSeen: () => Promise<string> | string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; seen: ${await describeSeen()}`);
    await sleep(100);
  }
}

interface SignerProc {
  readonly proc: ManagedProcess;
  readonly logFile: string;
  lines(): Record<string, unknown>[];
}

describe('PodCertificateRequest signer on a real control plane', () => {
  let cp: ControlPlane;
  let work: string;
  let ca: TestCert;
  let signerCred: UserCredential;
  const nodeCred: Record<string, UserCredential> = {};
  const uid: Record<string, string> = {};
  const running: SignerProc[] = [];

  const admin = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const r = await cp.adminRequest(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${String(r.status)} ${r.body}`);
    return JSON.parse(r.body) as T;
  };
  const asNode = (node: string, method: string, path: string, body?: unknown): Promise<HttpResult> => {
    const c = nodeCred[node];
    assert.ok(c !== undefined);
    return httpRequestText(new URL(path, cp.server), {
      method,
      tls: {
        ca: readFileSync(cp.pki.caCertPath),
        cert: readFileSync(c.certPath),
        key: readFileSync(c.keyPath),
      },
      body,
    });
  };

  const stub = stubRequest;

  /** Creates a PodCertificateRequest as `asNodeName` for pod `pod` naming node `node`. */
  const createPcr = (
    asNodeName: string,
    o: { pod: string; node: string; sa?: string; stubB64: string; maxExpirationSeconds?: number },
  ): Promise<HttpResult> => {
    const cred = nodeCred[asNodeName];
    assert.ok(cred !== undefined);
    const sa = o.sa ?? 'spire-agent';
    return createPcrAs(cp, cred, {
      namespace: NS,
      pod: o.pod,
      podUID: uid[`pod/${o.pod}`] ?? '',
      sa,
      saUID: uid[`sa/${sa}`] ?? '',
      node: o.node,
      nodeUID: uid[`node/${o.node}`] ?? '',
      stubB64: o.stubB64,
      ...(o.maxExpirationSeconds === undefined ? {} : { maxExpirationSeconds: o.maxExpirationSeconds }),
    });
  };
  const created = (r: HttpResult): Pcr => {
    assert.equal(r.status, 201, r.body);
    return JSON.parse(r.body) as Pcr;
  };
  const getPcr = (name: string): Promise<Pcr> => admin<Pcr>('GET', `${PCRS(NS)}/${name}`);
  const answered = (name: string, timeoutMs = 30_000): Promise<Pcr> =>
    until(
      `an answer on PodCertificateRequest ${name}`,
      async () => {
        const p = await getPcr(name);
        return (p.status?.conditions ?? []).length > 0 ? p : undefined;
      },
      async () =>
        `${JSON.stringify((await getPcr(name)).status ?? {})}; signer logs: ${running.map((s) => readFileSync(s.logFile, 'utf8').slice(-1500)).join('\n---\n')}`,
      timeoutMs,
    );

  const startSigner = async (identity: string, extra: string[] = []): Promise<SignerProc> => {
    const logFile = join(work, `signer-${identity}-${String(Date.now())}.log`);
    const proc = new ManagedProcess({
      name: `signer ${identity}`,
      command: CLI,
      logFile,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
      args: [
        'signer',
        '-server',
        cp.server,
        '-ca-cert',
        cp.pki.caCertPath,
        '-client-cert',
        signerCred.certPath,
        '-client-key',
        signerCred.keyPath,
        '-allow-service-account',
        'spire:spire-agent',
        '-ca-secret',
        'spire/node-attestor-signer-ca',
        '-ca-publish-delay',
        '0s',
        '-http-address',
        '127.0.0.1:0',
        '-lease-namespace',
        NS,
        '-leader-identity',
        identity,
        // Short enough for failover in seconds; a 6 s renew deadline so one slow etcd write on a
        // loaded machine does not make the leader step down.
        '-lease-duration',
        '8s',
        '-renew-deadline',
        '6s',
        '-retry-period',
        '500ms',
        '-log-format',
        'json',
        ...extra,
      ],
    });
    const lines = (): Record<string, unknown>[] =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const s = { proc, logFile, lines };
    running.push(s);
    await until(
      `signer ${identity} serving`,
      () =>
        Promise.resolve(
          proc.hasExited ? 'exited' : lines().some((l) => typeof l.url === 'string') ? 'up' : undefined,
        ),
      () => proc.tail(),
    );
    assert.ok(!proc.hasExited, `signer exited: ${proc.describeExit()}\n${proc.tail()}`);
    return s;
  };
  const stopSigners = async (): Promise<void> => {
    for (const s of running.splice(0)) await s.proc.stop();
  };

  before(async () => {
    cp = await startControlPlane({ apiserverArgs: ['--enable-admission-plugins=NodeRestriction'] });
    work = mkdtempSync(join(tmpdir(), 'na-signer-e2e-'));
    await cp.kubectl(['apply', '-f', join(REPO_ROOT, 'k8s-configs/approver/00-namespace.yml')]);
    await cp.kubectl(['apply', '-f', join(REPO_ROOT, 'k8s-configs/signer/10-signer-rbac.yml')]);
    for (const sa of ['spire-agent', 'other']) {
      const o = await admin<{ metadata: { uid: string } }>(
        'POST',
        `/api/v1/namespaces/${NS}/serviceaccounts`,
        {
          metadata: { name: sa },
        },
      );
      uid[`sa/${sa}`] = o.metadata.uid;
    }
    ca = await createCa('CN=node-attestor signer CA');
    writeFileSync(join(work, 'signer-ca.crt'), ca.pem);
    await admin('POST', `/api/v1/namespaces/${NS}/secrets`, {
      metadata: { name: 'node-attestor-signer-ca' },
      data: {
        'ca.crt': Buffer.from(ca.pem).toString('base64'),
        'ca.key': Buffer.from(ca.key.privateKeyPem).toString('base64'),
      },
    });
    signerCred = await cp.mintUser(SIGNER_USER);
    for (const node of ['node-a', 'node-b']) {
      const n = await admin<{ metadata: { uid: string } }>('POST', '/api/v1/nodes', {
        metadata: { name: node },
      });
      uid[`node/${node}`] = n.metadata.uid;
      nodeCred[node] = await cp.mintUser(`system:node:${node}`, ['system:nodes']);
    }
    const pods: [string, string, string][] = [
      ['agent-a', 'node-a', 'spire-agent'],
      ['agent-b', 'node-b', 'spire-agent'],
      ['other-a', 'node-a', 'other'],
    ];
    for (const [pod, node, sa] of pods) {
      const p = await admin<{ metadata: { uid: string } }>(
        'POST',
        `/api/v1/namespaces/${NS}/pods`,
        // NodeRestriction lets a node ask for a pod certificate only for a pod that mounts one.
        podWithPodCertVolume(pod, node, sa),
      );
      uid[`pod/${pod}`] = p.metadata.uid;
    }
    await cp.waitForAccess(SIGNER_USER, {
      group: 'certificates.k8s.io',
      resource: 'signers',
      name: SIGNER,
      verb: 'sign',
    });
  });

  after(async () => {
    await stopSigners();
    await cp.stop();
    rmSync(work, { recursive: true, force: true });
  });

  let issued: { pem: string; key: TestKey } | undefined;

  it("the signer's RBAC (k8s-configs/signer/) grants exactly what it needs", async () => {
    const allowed = async (attrs: Record<string, string>): Promise<boolean> => {
      const r = await admin<{ status?: { allowed?: boolean } }>(
        'POST',
        '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: { user: SIGNER_USER, resourceAttributes: attrs },
        },
      );
      return r.status?.allowed === true;
    };
    const cert = { group: 'certificates.k8s.io' };
    const yes: Record<string, string>[] = [
      { ...cert, resource: 'podcertificaterequests', verb: 'list' },
      { ...cert, resource: 'podcertificaterequests', verb: 'watch' },
      { ...cert, resource: 'podcertificaterequests', subresource: 'status', verb: 'update', namespace: NS },
      { ...cert, resource: 'signers', name: SIGNER, verb: 'sign' },
      {
        group: 'coordination.k8s.io',
        resource: 'leases',
        name: 'node-attestor-signer',
        verb: 'update',
        namespace: NS,
      },
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'create', namespace: NS },
      { resource: 'secrets', name: 'node-attestor-signer-ca', verb: 'get', namespace: NS },
    ];
    const no: Record<string, string>[] = [
      { ...cert, resource: 'podcertificaterequests', verb: 'get', namespace: NS },
      { ...cert, resource: 'podcertificaterequests', verb: 'update', namespace: NS },
      { ...cert, resource: 'podcertificaterequests', verb: 'delete', namespace: NS },
      { ...cert, resource: 'podcertificaterequests', verb: 'create', namespace: NS },
      { ...cert, resource: 'signers', name: 'example.com/other', verb: 'sign' },
      { ...cert, resource: 'signers', name: 'kubernetes.io/kube-apiserver-client-kubelet', verb: 'approve' },
      { ...cert, resource: 'certificatesigningrequests', verb: 'list' },
      { resource: 'secrets', name: 'other', verb: 'get', namespace: NS },
      { resource: 'secrets', verb: 'list', namespace: NS },
      { resource: 'nodes', verb: 'get' },
      { resource: 'pods', verb: 'get', namespace: NS },
      {
        group: 'coordination.k8s.io',
        resource: 'leases',
        name: 'node-attestor-approver',
        verb: 'update',
        namespace: NS,
      },
    ];
    for (const a of yes) assert.equal(await allowed(a), true, `allowed: ${JSON.stringify(a)}`);
    for (const a of no) assert.equal(await allowed(a), false, `refused: ${JSON.stringify(a)}`);
  });

  it('issues for an allowed pod: the node, pod and service account in the certificate, lifetime and refresh as asked', async () => {
    const signer = await startSigner('a');
    const { b64, key } = await stub();
    const p = created(await createPcr('node-a', { pod: 'agent-a', node: 'node-a', stubB64: b64 }));
    const done = await answered(p.metadata.name);
    const cond = done.status?.conditions?.[0];
    assert.equal(cond?.type, 'Issued', JSON.stringify(done.status));
    const pem = done.status?.certificateChain ?? '';
    const leaf = new X509Certificate(pem);
    assert.ok(leaf.verify(ca.cert.publicKey), 'signed by the signer CA');
    const id = await withCertificateReader(() => checkPodCertProfile(leaf, SIGNER));
    assert.deepEqual(id.pod, {
      signerName: SIGNER,
      nodeName: 'node-a',
      nodeUID: uid['node/node-a'],
      namespace: NS,
      podName: 'agent-a',
      podUID: uid['pod/agent-a'],
      serviceAccountName: 'spire-agent',
      serviceAccountUID: uid['sa/spire-agent'],
    });
    const nb = Date.parse(done.status?.notBefore ?? '');
    const na = Date.parse(done.status?.notAfter ?? '');
    assert.equal(na - nb, 3600_000, 'min(own 24h, the request 1h)');
    assert.equal(Date.parse(done.status?.beginRefreshAt ?? '') - nb, 1800_000, 'refresh at half');
    issued = { pem, key };
    // Health and metrics of the signer that answered.
    const url = String(signer.lines().find((l) => typeof l.url === 'string')?.url);
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    // The counter moves after the status write returns, so it may trail the answer by a moment.
    const metrics = await until(
      'issued_total 1 in the metrics',
      async () => {
        const text = await (await fetch(`${url}/metrics`)).text();
        return /^node_attestor_signer_issued_total 1$/m.test(text) ? text : undefined;
      },
      async () => (await fetch(`${url}/metrics`)).text(),
    );
    assert.match(metrics, /^node_attestor_signer_leader 1$/m);
  });

  it('denies a pod of another service account, with the reason on the request', async () => {
    const { b64 } = await stub();
    const p = created(
      await createPcr('node-a', { pod: 'other-a', node: 'node-a', sa: 'other', stubB64: b64 }),
    );
    const c = (await answered(p.metadata.name)).status?.conditions?.[0];
    assert.deepEqual([c?.type, c?.reason], ['Denied', 'ServiceAccountNotAllowed']);
    assert.match(c?.message ?? '', /service account spire\/other is not allowed/);
  });

  it('denies an Ed25519 key with UnsupportedKeyType', async () => {
    const { b64 } = await stub('ed25519');
    const p = created(await createPcr('node-a', { pod: 'agent-a', node: 'node-a', stubB64: b64 }));
    const c = (await answered(p.metadata.name)).status?.conditions?.[0];
    assert.deepEqual([c?.type, c?.reason], ['Denied', 'UnsupportedKeyType']);
  });

  it('a node-A credential cannot create a request naming node B, nor for a pod on node B (the API server refuses)', async () => {
    const { b64 } = await stub();
    const namingB = await createPcr('node-a', { pod: 'agent-b', node: 'node-b', stubB64: b64 });
    assert.equal(namingB.status, 403, namingB.body);
    assert.match(namingB.body, /which is not the requesting node \\"node-a\\"/);
    const podOnB = await createPcr('node-a', { pod: 'agent-b', node: 'node-a', stubB64: b64 });
    assert.equal(podOnB.status, 403, podOnB.body);
    assert.match(podOnB.body, /is not running on node \\"node-a\\"/);
    // And a node cannot answer its own request: /status is not the node's.
    const mine = created(await createPcr('node-b', { pod: 'agent-b', node: 'node-b', stubB64: b64 }));
    const selfSign = await asNode('node-b', 'PUT', `${PCRS(NS)}/${mine.metadata.name}/status`, mine);
    assert.equal(selfSign.status, 403, selfSign.body);
    // The running signer answers it; wait, so that the next test counts only its own requests.
    await answered(mine.metadata.name, 60_000);
  });

  it('restart and leader change while requests pend: every request answered once', async () => {
    const issuedBy = (sp: SignerProc): string[] =>
      sp
        .lines()
        .filter((l) => typeof l.msg === 'string' && l.msg.startsWith('issued a certificate'))
        .map((l) => String(l.request));
    const batch = async (n: number): Promise<string[]> => {
      const names: string[] = [];
      for (let i = 0; i < n; i++) {
        const { b64 } = await stub();
        names.push(
          created(await createPcr('node-a', { pod: 'agent-a', node: 'node-a', stubB64: b64 })).metadata.name,
        );
      }
      return names;
    };
    const allIssuedOnce = async (names: string[]): Promise<void> => {
      for (const n of names) {
        const p = await answered(n, 60_000);
        assert.equal(p.status?.conditions?.length, 1, JSON.stringify(p.status));
        assert.equal(p.status.conditions[0]?.type, 'Issued');
      }
    };
    // 1. Requests made while no signer runs wait; a restarted signer answers them all.
    await stopSigners();
    const pending = await batch(8);
    for (const n of pending)
      assert.equal((await getPcr(n)).status?.conditions, undefined, 'pending while no signer runs');
    const a = await startSigner('replica-a');
    const b = await startSigner('replica-b');
    await allIssuedOnce(pending);
    // 2. The leader dies without releasing the Lease (SIGKILL) while new requests pend: the
    //    other replica takes over once the Lease expires (8 s) and answers them.
    const leaderOf = async (): Promise<SignerProc> => {
      const lease = await admin<{ spec: { holderIdentity?: string } }>(
        'GET',
        `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/node-attestor-signer`,
      );
      const holder = lease.spec.holderIdentity;
      const sp = holder === 'replica-a' ? a : holder === 'replica-b' ? b : undefined;
      assert.ok(sp !== undefined, `lease holder ${String(holder)}`);
      return sp;
    };
    const leader = await leaderOf();
    const follower = leader === a ? b : a;
    leader.proc.killNow();
    await leader.proc.exited;
    const afterKill = await batch(8);
    await allIssuedOnce(afterKill);
    assert.equal((await leaderOf()).proc, follower.proc, 'the follower holds the Lease');
    // Each request was issued by exactly one replica, and the second batch by the follower. The
    // issuance is logged after the status write returns: wait for the lines, not only the answers.
    const expected = pending.length + afterKill.length;
    await until(
      'every issuance logged',
      () => Promise.resolve(issuedBy(a).length + issuedBy(b).length >= expected ? true : undefined),
      () => JSON.stringify([...issuedBy(a), ...issuedBy(b)]),
    );
    const all = [...issuedBy(a), ...issuedBy(b)].map((r) => r.replace(`${NS}/`, ''));
    assert.deepEqual(
      [...all].sort(),
      [...pending, ...afterKill].sort(),
      'every request issued once, across both replicas',
    );
    for (const n of afterKill)
      assert.ok(issuedBy(follower).includes(`${NS}/${n}`), `${n} issued by the follower`);
  });

  describe('k8s_pod_cert with a real spire-server and spire-agent', () => {
    let server: SpireServer;
    let spireDir: string;
    const dir = (n: string): string => {
      const d = join(spireDir, n);
      mkdirSync(d, { recursive: true });
      return d;
    };
    const agentWith = (name: string, bundle: string) =>
      startSpireAgent(dir(name), server, {
        name,
        nodeAttestor: ourPlugin(
          'agent',
          'k8s_pod_cert',
          `cluster = "e2e"\ncredential_bundle_path = "${bundle}"`,
          DIST,
          'k8s-pod-cert',
        ),
      });
    const refusedInLog = (re: RegExp): Promise<string> =>
      until(
        `a refusal matching ${String(re)} in spire-server's log`,
        () => Promise.resolve(re.exec(server.log())?.[0]),
        () => server.log().slice(-3000),
        60_000,
      );

    before(async () => {
      spireDir = join(work, 'spire');
      mkdirSync(spireDir);
      server = await startSpireServer(dir('server'), {
        nodeAttestors: ourPlugin(
          'server',
          'k8s_pod_cert',
          `clusters "e2e" {\n  ca_bundle_path = "${join(work, 'signer-ca.crt')}"\n  kubeconfig_path = "${cp.adminKubeconfig}"\n  verify_pod = true\n}`,
          DIST,
          'k8s-pod-cert',
        ),
        // Agents rotate, and so re-attest, at about half of it.
        agentTtl: '20s',
      });
    });
    after(async () => {
      await server.stop();
    });

    it('spire-agent attests with the issued certificate from a credential bundle (agent ID by node UID), and re-attests with the refreshed one without a restart', async () => {
      assert.ok(issued !== undefined, 'the issue test ran');
      const bundle = join(work, 'credentialbundle.pem');
      writeFileSync(bundle, issued.key.privateKeyPem + issued.pem);
      const agent = agentWith('agent-a', bundle);
      try {
        await agent.waitHealthy(60_000);
        const agents = await server.agents();
        const me = agents.find((x) => x.attestation_type === 'k8s_pod_cert');
        assert.equal(
          me?.id.path,
          `/spire/agent/k8s_pod_cert/e2e/${uid['node/node-a'] ?? ''}`,
          JSON.stringify(agents),
        );
        assert.ok(me.can_reattest);
        const sel = me.selectors.map((s) => `${s.type}:${s.value}`);
        for (const v of [
          `k8s_pod_cert:agent_pod_uid:${uid['pod/agent-a'] ?? ''}`,
          'k8s_pod_cert:agent_service_account:spire/spire-agent',
        ])
          assert.ok(sel.includes(v), `${v} in ${sel.join(' ')}`);

        // The kubelet refreshes the bundle at beginRefreshAt (here: a new request issued by the
        // signer, the file replaced in place); spire-agent re-attests at its next SVID rotation
        // (agent_ttl 20s) with the new certificate, without a restart.
        const { b64, key } = await stub();
        const p = created(await createPcr('node-a', { pod: 'agent-a', node: 'node-a', stubB64: b64 }));
        const pem = (await answered(p.metadata.name)).status?.certificateChain ?? '';
        const serial = new X509Certificate(pem).serialNumber.toLowerCase();
        writeFileSync(`${bundle}.new`, key.privateKeyPem + pem);
        renameSync(`${bundle}.new`, bundle);
        await until(
          `re-attestation with the refreshed certificate (serial ${serial})`,
          () => Promise.resolve(server.log().includes(serial) ? true : undefined),
          () => server.log().slice(-3000),
          90_000,
        );
        assert.equal(await agent.healthy(), true);
        assert.equal(agent.process.hasExited, false, 'no restart');
      } finally {
        await agent.stop();
      }
    });

    it('refuses a certificate of the same CA with another profile', async () => {
      const other = await createNodeClientCert(ca, 'node-a');
      const bundle = join(work, 'other-profile.pem');
      writeFileSync(bundle, other.key.privateKeyPem + other.pem);
      const agent = agentWith('other-profile', bundle);
      try {
        await refusedInLog(/not a node-attestor pod certificate: subject is[^\n]*/);
        assert.ok(!(await agent.healthy()));
      } finally {
        await agent.stop();
      }
    });

    it('refuses the old certificate of a node deleted and re-created (new UID)', async () => {
      assert.ok(issued !== undefined);
      await admin('DELETE', '/api/v1/nodes/node-a');
      const n = await admin<{ metadata: { uid: string } }>('POST', '/api/v1/nodes', {
        metadata: { name: 'node-a' },
      });
      assert.notEqual(n.metadata.uid, uid['node/node-a']);
      uid['node/node-a'] = n.metadata.uid;
      const bundle = join(work, 'old-node.pem');
      writeFileSync(bundle, issued.key.privateKeyPem + issued.pem);
      const agent = agentWith('old-node', bundle);
      try {
        await refusedInLog(/the node was re-created since the certificate was issued/);
        assert.ok(!(await agent.healthy()));
      } finally {
        await agent.stop();
      }
    });
  });

  it('CA rotation through the Secret: a new CA is read again and signs only once published long enough', async () => {
    await stopSigners();
    const now = Date.now();
    const young = await createCa('CN=signer CA young', { notBefore: new Date(now - 60_000) });
    const ready = await createCa('CN=signer CA published', { notBefore: new Date(now - 40 * 60_000) });
    const putSecret = (cas: TestCert[]): Promise<unknown> =>
      admin('PUT', `/api/v1/namespaces/${NS}/secrets/node-attestor-signer-ca`, {
        metadata: { name: 'node-attestor-signer-ca', namespace: NS },
        data: {
          'ca.crt': Buffer.from(cas.map((c) => c.pem).join('')).toString('base64'),
          'ca.key': Buffer.from(cas.map((c) => c.key.privateKeyPem).join('')).toString('base64'),
        },
      });
    const issuerOfNext = async (): Promise<string> => {
      const { b64 } = await stub();
      const p = created(await createPcr('node-a', { pod: 'agent-a', node: 'node-a', stubB64: b64 }));
      const done = await answered(p.metadata.name);
      return new X509Certificate(done.status?.certificateChain ?? '').issuer;
    };
    await putSecret([ca, young]);
    await startSigner('rotation', ['-ca-publish-delay', '30m', '-ca-reload-interval', '1s']);
    // The original CA (notBefore 1h ago) is past the delay; the young one (1 min) is not.
    assert.equal(await issuerOfNext(), 'CN=node-attestor signer CA');
    await putSecret([ca, young, ready]);
    // Re-read within a second or so: the newest CA past the delay signs from then on.
    await until(
      'the published CA signing',
      async () => ((await issuerOfNext()) === 'CN=signer CA published' ? true : undefined),
      () => running.map((r) => r.proc.tail()).join('\n'),
    );
    await stopSigners();
  });
});

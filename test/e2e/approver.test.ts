/**
 * The node-bound CSR approver against a real control plane (kube-apiserver v1.37.2 with the KCM's
 * csrapproving and csrsigning controllers running): the agent's service account has NO nodeclient
 * binding, so only our approver can approve, and the KCM's signer signs what it approves.
 *
 * Agents are Pods bound to Nodes by spec.nodeName (no kubelet: they stay Pending), and
 * authenticate with TokenRequest tokens bound to those Pods, as a kubelet would mint them.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import {
  AGENT_SA,
  AGENT_USER,
  APPROVER_SA,
  MANIFESTS,
  NS,
  applyApproverManifests,
  createCsrAs,
  createNode,
  createPod,
  decisionLines,
  decisionsOf,
  getCsr,
  getLease,
  mintToken,
  nodeCsrPem,
  startApprover,
  waitForDecision,
  writeToken,
  type ApproverProcess,
  type CsrJson,
} from './support/approver-cluster.js';
import { runCli } from './support/cli.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const EXTRA = 'authentication.kubernetes.io/';

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('node-bound CSR approver on a real control plane', () => {
  let cp: ControlPlane;
  let work: string;
  let approverToken: string;
  const nodeUid: Record<string, string> = {};
  let podToken: string;
  let running: ApproverProcess[] = [];

  const cliAuth = (tokenFile: string): string[] => [
    '-server',
    cp.server,
    '-ca-cert',
    cp.pki.caCertPath,
    '-token-file',
    tokenFile,
  ];
  const stopAll = async (): Promise<void> => {
    for (const a of running) await a.proc.stop();
    running = [];
  };
  const approver = async (identity: string, extraArgs: string[] = []): Promise<ApproverProcess> => {
    const a = await startApprover(cp, { dir: work, identity, tokenFile: approverToken, extraArgs });
    running.push(a);
    return a;
  };

  before(async () => {
    cp = await startControlPlane();
    work = mkdtempSync(join(tmpdir(), 'na-approver-e2e-'));
  });

  after(async () => {
    await stopAll();
    await cp.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('the manifests are accepted by the API server (server-side dry run), then applied', async () => {
    // A server-side dry run of namespaced objects needs their namespace to exist for real.
    const nsDry = await cp.kubectl(['apply', '--dry-run=server', '-f', join(MANIFESTS, '00-namespace.yml')]);
    assert.match(nsDry, /namespace\/spire created \(server dry run\)/);
    await cp.kubectl(['create', 'namespace', NS]);
    const dry = await cp.kubectl(['apply', '--dry-run=server', '-f', MANIFESTS]);
    for (const obj of [
      'serviceaccount/node-attestor-approver',
      'clusterrole.rbac.authorization.k8s.io/node-attestor-approver',
      'clusterrolebinding.rbac.authorization.k8s.io/node-attestor-approver',
      'role.rbac.authorization.k8s.io/node-attestor-approver',
      'rolebinding.rbac.authorization.k8s.io/node-attestor-approver',
      'role.rbac.authorization.k8s.io/node-attestor-approver-events',
      'rolebinding.rbac.authorization.k8s.io/node-attestor-approver-events',
      'serviceaccount/spire-agent',
      'clusterrole.rbac.authorization.k8s.io/node-attestor-agent-csr',
      'clusterrolebinding.rbac.authorization.k8s.io/node-attestor-agent-csr',
    ])
      assert.match(
        dry,
        new RegExp(`${obj.replaceAll('.', '\\.')} (created|configured|unchanged) \\(server dry run\\)`),
        dry,
      );
    await applyApproverManifests(cp);
    // The agent must not be able to get auto-approved by the KCM.
    const sar = await cp.adminRequest('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: AGENT_USER,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated'],
        resourceAttributes: {
          group: 'certificates.k8s.io',
          resource: 'certificatesigningrequests',
          subresource: 'nodeclient',
          verb: 'create',
        },
      },
    });
    assert.equal((JSON.parse(sar.body) as { status: { allowed: boolean } }).status.allowed, false);

    for (const n of ['node-a', 'node-b']) nodeUid[n] = await createNode(cp, n);
    const podUid = await createPod(cp, 'agent-a', 'node-a');
    podToken = await mintToken(cp, AGENT_SA, { kind: 'Pod', name: 'agent-a', uid: podUid });
    approverToken = writeToken(work, 'approver', await mintToken(cp, APPROVER_SA));
  });

  it("approves the CLI's CSR for its own pod's node; the KCM signs it; spec.extra carries the binding", async () => {
    const a = await approver('solo');
    const tokenFile = writeToken(work, 'agent-a', podToken);
    const idDir = join(work, 'id-a');
    const r = await runCli([
      ...cliAuth(tokenFile),
      '-agent-name',
      'node-a',
      '-id-dir',
      idDir,
      '-output',
      'json',
      '-timeout',
      '60s',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { status: string; csrName: string; certPath: string };
    assert.equal(out.status, 'issued');
    const csr = await getCsr(cp, out.csrName);
    assert.equal(csr.spec.username, AGENT_USER);
    const extra = csr.spec.extra ?? {};
    assert.deepEqual(extra[`${EXTRA}node-name`], ['node-a']);
    assert.deepEqual(extra[`${EXTRA}node-uid`], [nodeUid['node-a']]);
    assert.deepEqual(extra[`${EXTRA}pod-name`], ['agent-a']);
    assert.equal(extra[`${EXTRA}pod-uid`]?.length, 1);
    assert.match(extra[`${EXTRA}credential-id`]?.[0] ?? '', /^JTI=/);
    const approved = (csr.status.conditions ?? []).filter((c) => c.type === 'Approved');
    assert.equal(approved.length, 1);
    assert.equal(approved[0]?.reason, 'NodeBindingVerified');
    assert.match(approved[0].message ?? '', /pod spire\/agent-a on node node-a/);
    assert.ok((csr.status.certificate ?? '') !== '', 'signed by the KCM');
    const subject = execFileSync('openssl', ['x509', '-in', out.certPath, '-noout', '-subject'], {
      encoding: 'utf8',
    });
    assert.match(subject, /O = system:nodes, CN = system:node:node-a/);
    assert.equal(await a.metric('node_attestor_approver_csrs_approved_total'), 1);
    assert.equal(await a.metric('node_attestor_approver_leader'), 1);
    assert.equal(
      await a.metric('node_attestor_approver_decision_latency_seconds_count', { decision: 'approved' }),
      1,
    );
    const lease = await getLease(cp);
    assert.equal(lease?.spec.holderIdentity, 'solo');
  });

  it("denies a CSR naming another node than the token's pod's, with the reason", async () => {
    const tokenFile = writeToken(work, 'agent-a-b', podToken);
    const r = await runCli([
      ...cliAuth(tokenFile),
      '-agent-name',
      'node-b',
      '-id-dir',
      join(work, 'id-b'),
      '-output',
      'json',
      '-timeout',
      '60s',
    ]);
    assert.equal(r.code, 6, r.stderr);
    assert.match(
      r.stderr,
      /denied: NodeMismatch: CN names node node-b but the requester's token bound to pod spire\/agent-a on node node-a/,
    );
    const err = JSON.parse(r.stdout) as { code: string; details: { csrName: string; reason: string } };
    assert.equal(err.code, 'ERR_CSR_DENIED');
    assert.equal(err.details.reason, 'NodeMismatch');
    const c = await getCsr(cp, err.details.csrName);
    assert.deepEqual(decisionsOf(c), ['Denied']);
    assert.equal(c.status.certificate ?? '', '', 'never signed');
    // What an admin sees: describe prints only "Status: Denied" from the conditions, and the
    // reason and message from the Event the approver recorded.
    const described = await until('the Event', async () => {
      const text = await cp.kubectl(['describe', 'csr', err.details.csrName]);
      return text.includes('NodeMismatch') ? text : undefined;
    });
    assert.match(described, /Status:\s+Denied/);
    assert.match(described, /Warning\s+NodeMismatch\s+.*node-attestor-approver\s+CN names node node-b/);
  });

  it('denies a CSR from a token bound to no pod', async () => {
    const unbound = writeToken(work, 'unbound', await mintToken(cp, AGENT_SA));
    const r = await runCli([
      ...cliAuth(unbound),
      '-agent-name',
      'node-a',
      '-id-dir',
      join(work, 'id-u'),
      '-timeout',
      '60s',
    ]);
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, /denied: NoNodeBinding: /);
    // A token bound to the Node itself (not a pod) is refused by default too.
    const nodeBound = await mintToken(cp, AGENT_SA, {
      kind: 'Node',
      name: 'node-a',
      uid: nodeUid['node-a'] ?? '',
    });
    const c = await createCsrAs(cp, nodeBound, await nodeCsrPem('node-a'));
    assert.deepEqual(c.spec.extra?.[`${EXTRA}node-name`], ['node-a']);
    assert.equal(c.spec.extra[`${EXTRA}pod-name`], undefined);
    const decided = await waitForDecision(cp, c.metadata.name);
    assert.equal(decided.status.conditions?.[0]?.reason, 'NoPodBinding');
  });

  it('finds the node through the bound Pod when the token carries no node-name', async () => {
    // A token minted while its pod was unscheduled has pod-name/pod-uid but no node-name.
    const podUid = await createPod(cp, 'agent-late', undefined);
    const token = await mintToken(cp, AGENT_SA, { kind: 'Pod', name: 'agent-late', uid: podUid });
    const early = await createCsrAs(cp, token, await nodeCsrPem('node-a'));
    assert.equal(early.spec.extra?.[`${EXTRA}node-name`], undefined);
    assert.deepEqual(early.spec.extra?.[`${EXTRA}pod-uid`], [podUid]);
    const unscheduled = await waitForDecision(cp, early.metadata.name);
    assert.equal(unscheduled.status.conditions?.[0]?.reason, 'PodNotScheduled');

    // Scheduled now (as the scheduler would, through pods/binding): the Pod says node-a.
    const bind = await cp.adminRequest('POST', `/api/v1/namespaces/${NS}/pods/agent-late/binding`, {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: 'agent-late' },
      target: { apiVersion: 'v1', kind: 'Node', name: 'node-a' },
    });
    assert.equal(bind.status, 201, bind.body);
    const ok = await waitForDecision(
      cp,
      (await createCsrAs(cp, token, await nodeCsrPem('node-a'))).metadata.name,
      { signed: true },
    );
    assert.deepEqual(decisionsOf(ok), ['Approved']);
    assert.match(ok.status.conditions?.[0]?.message ?? '', /read from the Pod/);
    const wrong = await waitForDecision(
      cp,
      (await createCsrAs(cp, token, await nodeCsrPem('node-b'))).metadata.name,
    );
    assert.equal(wrong.status.conditions?.[0]?.reason, 'NodeMismatch');
  });

  it('denies a CSR without spec.expirationSeconds, and one above -max-expiration, with the reason on the CSR', async () => {
    const reasonOf = (c: CsrJson): [string, string] | undefined => {
      const d = (c.status.conditions ?? []).find((x) => x.type === 'Denied');
      return d === undefined ? undefined : [d.reason ?? '', d.message ?? ''];
    };
    const none = await createCsrAs(cp, podToken, await nodeCsrPem('node-a'), 'no-exp-', null);
    assert.equal(none.spec.expirationSeconds, undefined, 'the API server added no lifetime');
    const year = await createCsrAs(cp, podToken, await nodeCsrPem('node-a'), 'year-', 365 * 86400);
    const fine = await createCsrAs(cp, podToken, await nodeCsrPem('node-a'), 'four-h-', 4 * 3600);
    const [deniedNone, deniedYear, ok] = await Promise.all(
      [none, year, fine].map((c) => waitForDecision(cp, c.metadata.name)),
    );
    assert.deepEqual(reasonOf(deniedNone!), [
      'NoExpiration',
      'spec.expirationSeconds is not set, so the signer would issue its maximum lifetime; the limit is 4h0m0s (-max-expiration)',
    ]);
    assert.deepEqual(reasonOf(deniedYear!), [
      'ExpirationTooLong',
      'spec.expirationSeconds is 31536000 (8760h0m0s); the limit is 4h0m0s (-max-expiration)',
    ]);
    assert.deepEqual(decisionsOf(ok!), ['Approved'], 'exactly the limit is approved');
    for (const c of [deniedNone!, deniedYear!]) assert.equal(c.status.certificate ?? '', '', 'never signed');
  });

  it('denies a valid request followed by ~800 KB of BEGIN junk, and approves an honest CSR right after', async () => {
    const a = running[0];
    assert.ok(a !== undefined);
    const junk = '-----BEGIN CERTIFICATE REQUEST-----\n'.repeat(Math.ceil(800_000 / 36));
    const hostile = await createCsrAs(cp, podToken, (await nodeCsrPem('node-a')) + junk, 'junk-');
    // The API server took it: it reads the first PEM block only.
    assert.ok(hostile.spec.request.length > 1_000_000, String(hostile.spec.request.length));
    const honest = await createCsrAs(cp, podToken, await nodeCsrPem('node-a'), 'honest-');
    const [denied, approved] = await Promise.all([
      waitForDecision(cp, hostile.metadata.name),
      waitForDecision(cp, honest.metadata.name, { signed: true }),
    ]);
    const condition = denied.status.conditions?.find((x) => x.type === 'Denied');
    assert.equal(condition?.reason, 'NotNodeClientRequest');
    assert.match(
      condition.message ?? '',
      /^not a node client request: spec\.request is \d+ bytes; the limit is 16 KiB/,
    );
    assert.deepEqual(decisionsOf(approved), ['Approved']);
    // It kept its Lease throughout: no leadership flap.
    assert.equal(await a.metric('node_attestor_approver_leader'), 1);
    assert.equal((await getLease(cp))?.spec.holderIdentity, a.identity);
  });

  it('leaves CSRs of a requester not in the allow-list alone (no write at all)', async () => {
    const a = running[0];
    assert.ok(a !== undefined);
    await cp.kubectl(['create', 'serviceaccount', 'other-agent', '-n', NS]);
    await cp.kubectl([
      'create',
      'clusterrolebinding',
      'other-agent-csr',
      '--clusterrole=node-attestor-agent-csr',
      `--serviceaccount=${NS}:other-agent`,
    ]);
    await cp.waitForAccess(`system:serviceaccount:${NS}:other-agent`, {
      group: 'certificates.k8s.io',
      resource: 'certificatesigningrequests',
      verb: 'create',
    });
    const podUid = await createPod(cp, 'other-a', 'node-a', 'other-agent');
    const token = await mintToken(cp, 'other-agent', { kind: 'Pod', name: 'other-a', uid: podUid });
    const ignored = (): Promise<number> =>
      a.metric('node_attestor_approver_csrs_ignored_total', { reason: 'requester_not_allowed' });
    const before = await ignored();
    const c = await createCsrAs(cp, token, await nodeCsrPem('node-a'));
    // Counted as ignored: the approver has handled this CSR, and handling it wrote nothing.
    await until('the approver to count the CSR as ignored', async () =>
      (await ignored()) > before ? true : undefined,
    );
    // And it went on working: a CSR it owns, created afterwards, is decided.
    const marker = await createCsrAs(cp, podToken, await nodeCsrPem('node-a'));
    assert.deepEqual(decisionsOf(await waitForDecision(cp, marker.metadata.name)), ['Approved']);
    const now = await getCsr(cp, c.metadata.name);
    assert.equal(now.status.conditions, undefined);
    assert.equal(now.metadata.resourceVersion, c.metadata.resourceVersion, 'the CSR was not written');
    assert.equal(await ignored(), before + 1, 'counted once');
  });

  it('with two replicas exactly one acts (the Lease holder); each CSR gets exactly one decision', async () => {
    const solo = running[0];
    assert.ok(solo !== undefined);
    await solo.proc.stop();
    assert.equal(solo.proc.describeExit(), 'exited with code 0');
    running = [];
    assert.equal((await getLease(cp))?.spec.holderIdentity, '', 'released on SIGTERM');

    const [r1, r2] = [await approver('replica-1'), await approver('replica-2')];
    const holder = await until('a leader', async () => {
      const h = (await getLease(cp))?.spec.holderIdentity;
      return h === 'replica-1' || h === 'replica-2' ? h : undefined;
    });
    const [leader, follower] = holder === 'replica-1' ? [r1, r2] : [r2, r1];
    const created: CsrJson[] = [];
    for (let i = 0; i < 6; i++)
      created.push(await createCsrAs(cp, podToken, await nodeCsrPem(i % 2 === 0 ? 'node-a' : 'node-b')));
    for (const c of created) {
      const d = await waitForDecision(cp, c.metadata.name);
      assert.equal(decisionsOf(d).length, 1, c.metadata.name);
      assert.deepEqual(decisionsOf(d), [created.indexOf(c) % 2 === 0 ? 'Approved' : 'Denied']);
    }
    // The decision line is logged after the write, through a pipe: wait for it, not only the CSR.
    await until('the leader to log every decision', () =>
      Promise.resolve(created.every((c) => decisionLines(leader).has(c.metadata.name)) ? true : undefined),
    );
    const led = decisionLines(leader);
    for (const c of created)
      assert.equal(led.get(c.metadata.name), 1, `${c.metadata.name} decided once by the leader`);
    for (const c of created)
      assert.equal(decisionLines(follower).get(c.metadata.name), undefined, 'the follower wrote nothing');
    assert.equal(await leader.metric('node_attestor_approver_leader'), 1);
    assert.equal(await follower.metric('node_attestor_approver_leader'), 0);
    assert.equal((await getLease(cp))?.spec.holderIdentity, leader.identity);

    // The leader dies without releasing: the follower takes over once the Lease expires.
    leader.proc.killNow();
    await leader.proc.exited;
    const c = await createCsrAs(cp, podToken, await nodeCsrPem('node-a'));
    const d = await waitForDecision(cp, c.metadata.name, { timeoutMs: 60_000 });
    assert.deepEqual(decisionsOf(d), ['Approved']);
    await until('the new leader to log the decision (after the write, through a pipe)', () =>
      Promise.resolve(decisionLines(follower).has(c.metadata.name) ? true : undefined),
    );
    assert.equal(decisionLines(follower).get(c.metadata.name), 1);
    assert.equal((await getLease(cp))?.spec.holderIdentity, follower.identity);
    await stopAll();
  });

  it('killed (SIGKILL) with CSRs pending and restarted, decides each exactly once', async () => {
    const first = await approver('restarting');
    const created: CsrJson[] = [];
    const pems = await Promise.all(
      Array.from({ length: 12 }, (_, i) => nodeCsrPem(i % 3 === 0 ? 'node-b' : 'node-a')),
    );
    for (const [i, pem] of pems.entries()) {
      created.push(await createCsrAs(cp, podToken, pem));
      if (i === 5) {
        first.proc.killNow();
        await first.proc.exited;
      }
    }
    running = running.filter((a) => a !== first);
    // Created after the first process was gone: only the restarted one can decide these. A
    // write the killed process had in flight may still land on one of the first six at any
    // moment; the checks below hold whether it lands before, during or never.
    const afterKill = new Set(created.slice(6).map((c) => c.metadata.name));

    // Restarted as the same replica (a container restart keeps the pod name): it resumes its Lease.
    const second = await approver('restarting');
    for (const c of created) {
      const d = await waitForDecision(cp, c.metadata.name);
      assert.equal(decisionsOf(d).length, 1);
      assert.deepEqual(decisionsOf(d), [created.indexOf(c) % 3 === 0 ? 'Denied' : 'Approved']);
    }
    // The decision line is logged after the write, through a pipe: wait for it, not only the CSR.
    await until('the restarted approver to log its decisions', () =>
      Promise.resolve([...afterKill].every((n) => decisionLines(second).has(n)) ? true : undefined),
    );
    const firstLines = decisionLines(first);
    const secondLines = decisionLines(second);
    for (const c of created) {
      const n = c.metadata.name;
      const total = (firstLines.get(n) ?? 0) + (secondLines.get(n) ?? 0);
      if (afterKill.has(n)) assert.equal(secondLines.get(n), 1, `${n} decided by the restarted approver`);
      assert.ok(total <= 1, `${n} decided at most once (${String(total)})`);
    }
    // A conflict can only come from a write of the killed process landing late: each one is a
    // CSR from before the kill that the restarted approver then left as it was.
    const leftAlone = second
      .logLines()
      .filter((l) => l.msg === 'CSR was decided by someone else first; left as it is')
      .map((l) => String(l.csr));
    for (const n of leftAlone) {
      assert.ok(!afterKill.has(n), `${n}: a conflict on a CSR the killed process never saw`);
      assert.equal(secondLines.get(n), undefined, `${n}: left alone, not decided`);
    }
    assert.equal(await second.metric('node_attestor_approver_approval_conflicts_total'), leftAlone.length);
    await stopAll();
  });
});

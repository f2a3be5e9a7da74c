/** `node-attestor approver` in-process against the fake API server: the whole wiring. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createServer } from 'node:net';
import { approverMain } from '../../../../src/cli/approver/command.js';
import { main } from '../../../../src/cli/main.js';
import { AGENT, apiSetup, requestPem, until, type ApiSetup, type Binding } from '../../approver/helpers.js';
import { sampleValue } from '../../../support/prometheus-text.js';

const BOUND: Binding = { nodeName: 'node-a', nodeUid: 'uid-a', podName: 'agent-a', podUid: 'pod-a' };
const FAST = [
  '-lease-duration',
  '2s',
  '-renew-deadline',
  '1s',
  '-retry-period',
  '200ms',
  '-http-address',
  '127.0.0.1:0',
];

interface Running {
  readonly code: Promise<number>;
  readonly ac: AbortController;
  readonly stderr: () => string;
  url(): Promise<string>;
  /** One sample of /metrics (read with the strict text-format reader); NaN when absent. */
  metric(name: string, labels?: Readonly<Record<string, string>>): Promise<number>;
}

describe('node-attestor approver (command)', () => {
  let s: ApiSetup;
  before(async () => {
    s = await apiSetup();
    s.api.setNode({ metadata: { name: 'node-a', uid: 'uid-a' } });
    s.api.setNode({ metadata: { name: 'node-b', uid: 'uid-b' } });
    s.api.setPod({
      metadata: { name: 'late', namespace: 'spire', uid: 'pod-late' },
      spec: { nodeName: 'node-b' },
    });
  });
  after(async () => {
    await s.close();
  });

  function start(args: string[]): Running {
    const ac = new AbortController();
    let err = '';
    let url: string | undefined;
    const code = approverMain(
      [...s.approverFlags, ...FAST, '-log-format', 'json', ...args],
      {
        stdout: () => undefined,
        stderr: (t) => (err += t),
        stderrIsTTY: false,
        signal: ac.signal,
        version: 't',
      },
      {
        onStarted: (i) => {
          url = i.url;
        },
        watchTimeoutSeconds: 30,
      },
    );
    const r: Running = {
      code,
      ac,
      stderr: () => err,
      url: async () => {
        await until(() => url !== undefined);
        return url ?? '';
      },
      metric: async (name, labels = {}) => {
        const text = await (await fetch(`${await r.url()}/metrics`)).text();
        return sampleValue(text, name, labels) ?? Number.NaN;
      },
    };
    return r;
  }

  it('is reached through the main CLI, with its own --help, and bad flags exit 2 on one line', async () => {
    let out = '';
    let err = '';
    const io = {
      stdout: (t: string) => (out += t),
      stderr: (t: string) => (err += t),
      stderrIsTTY: false,
      version: 't',
    };
    assert.equal(await main(['approver', '--help'], io), 0);
    assert.match(out, /^Usage: node-attestor approver -allow-requester <user> \[flags\]/);
    assert.equal(await main(['approver', '-allow-requester', AGENT, '-workers', 'x'], io), 2);
    assert.match(
      err,
      /^node-attestor approver: error: -workers must be a whole number .* \(see node-attestor approver -help\)\n$/,
    );
    out = '';
    assert.equal(await main(['-help'], io), 0);
    assert.match(out, /node-attestor approver \[flags\]/, 'the main help mentions the subcommand');
    out = '';
    assert.equal(await main(['approver', '-version'], io), 0);
    assert.equal(out, 'node-attestor t\n');
  });

  it('approves, denies, ignores; serves health and metrics; a stop releases the Lease and exits 0', async () => {
    const r = start(['-allow-requester', AGENT, '-leader-identity', 'unit-1']);
    const base = await r.url();
    await until(() => s.api.lease('spire', 'node-attestor-approver')?.spec.holderIdentity === 'unit-1');
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);

    const ok = await s.createCsr(await requestPem({ node: 'node-a' }), BOUND);
    const mismatch = await s.createCsr(await requestPem({ node: 'node-b' }), BOUND);
    const viaPod = await s.createCsr(await requestPem({ node: 'node-b' }), {
      podName: 'late',
      podUid: 'pod-late',
    });
    const stranger = await s.createCsr(
      await requestPem({ node: 'node-a' }),
      BOUND,
      'system:serviceaccount:x:y',
    );
    const cond = (n: string): string | undefined => {
      const c = s.api.csr(n)?.status.conditions?.[0];
      return c === undefined ? undefined : `${c.type}/${c.reason}`;
    };
    await until(
      () =>
        cond(ok.metadata.name) !== undefined &&
        cond(mismatch.metadata.name) !== undefined &&
        cond(viaPod.metadata.name) !== undefined,
    );
    assert.equal(cond(ok.metadata.name), 'Approved/NodeBindingVerified');
    assert.equal(cond(mismatch.metadata.name), 'Denied/NodeMismatch');
    assert.equal(cond(viaPod.metadata.name), 'Approved/NodeBindingVerified');
    assert.equal(await r.metric('node_attestor_approver_csrs_approved_total'), 2);
    assert.equal(await r.metric('node_attestor_approver_csrs_denied_total', { reason: 'NodeMismatch' }), 1);
    const ignored = (): Promise<number> =>
      r.metric('node_attestor_approver_csrs_ignored_total', { reason: 'requester_not_allowed' });
    await until(async () => (await ignored()) > 0, 5000, 'the stranger CSR to be counted as ignored');
    assert.equal(await ignored(), 1);
    assert.equal(await r.metric('node_attestor_approver_leader'), 1);
    assert.equal(await r.metric('node_attestor_approver_informer_synced'), 1);
    assert.equal(cond(stranger.metadata.name), undefined);

    r.ac.abort();
    assert.equal(await r.code, 0, r.stderr());
    assert.equal(s.api.lease('spire', 'node-attestor-approver')?.spec.holderIdentity, '');
    assert.match(r.stderr(), /"msg":"released the lease"/);
    assert.match(r.stderr(), /"msg":"stopped"/);
  });

  it('a new leader picks up what is pending at once; without leader election every replica acts', async () => {
    // a decides only AGENT's CSRs; b also another requester's, which a leaves pending.
    const other = 'system:serviceaccount:spire:other';
    const a = start([
      '-allow-requester',
      AGENT,
      '-leader-identity',
      'a',
      '-lease-name',
      'handover',
      '-log-level',
      'debug',
    ]);
    await until(() => s.api.lease('spire', 'handover')?.spec.holderIdentity === 'a');
    const b = start([
      '-allow-requester',
      AGENT,
      '-allow-requester',
      other,
      '-leader-identity',
      'b',
      '-lease-name',
      'handover',
    ]);
    await b.url();
    const pending = await s.createCsr(await requestPem({ node: 'node-a' }), BOUND, other);
    // a, the leader, has seen the CSR and left it alone (its debug line); b is a follower.
    await until(
      () =>
        a
          .stderr()
          .split('\n')
          .some((l) => l.includes('left a CSR alone') && l.includes(`"csr":"${pending.metadata.name}"`)),
      5000,
      'the leader to leave the CSR alone',
    );
    assert.equal(await b.metric('node_attestor_approver_leader'), 0);
    assert.equal(
      s.api.csr(pending.metadata.name)?.status.conditions,
      undefined,
      'a leaves it alone; b is not the leader',
    );
    a.ac.abort();
    assert.equal(await a.code, 0);
    await until(() => s.api.csr(pending.metadata.name)?.status.conditions?.[0]?.type === 'Approved');
    assert.equal(s.api.lease('spire', 'handover')?.spec.holderIdentity, 'b');
    b.ac.abort();
    assert.equal(await b.code, 0);

    const free = start(['-allow-requester', AGENT, '-leader-elect=false', '-record-events=false']);
    const c = await s.createCsr(await requestPem({ node: 'node-a' }), BOUND);
    await until(() => s.api.csr(c.metadata.name)?.status.conditions?.[0]?.type === 'Approved');
    assert.equal(await free.metric('node_attestor_approver_leader'), 1);
    free.ac.abort();
    assert.equal(await free.code, 0);
  });

  it('exits 4 when its first LIST is refused, 9 when it cannot listen, 3 on a missing token file', async () => {
    s.api.addRule({
      method: 'GET',
      watch: false,
      path: '/apis/certificates.k8s.io/v1/certificatesigningrequests',
      respond: { status: 403, message: 'cannot list' },
    });
    const denied = start(['-allow-requester', AGENT, '-leader-elect=false']);
    assert.equal(await denied.code, 4);
    assert.match(denied.stderr(), /node-attestor approver: error: .*cannot list/);

    const taken = createServer();
    await new Promise<void>((res) => taken.listen(0, '127.0.0.1', res));
    const port = (taken.address() as { port: number }).port;
    const busy = start(['-allow-requester', AGENT, '-http-address', `127.0.0.1:${String(port)}`]);
    assert.equal(await busy.code, 9);
    assert.match(busy.stderr(), /cannot listen on -http-address 127\.0\.0\.1:\d+: EADDRINUSE/);
    taken.close();

    let err = '';
    const code = await approverMain(
      ['-server', s.api.url, '-token-file', '/nonexistent/token', '-allow-requester', AGENT],
      {
        stdout: () => undefined,
        stderr: (t) => (err += t),
        stderrIsTTY: false,
        version: 't',
      },
    );
    assert.equal(code, 3);
    assert.match(err, /token file \/nonexistent\/token/);
  });
});

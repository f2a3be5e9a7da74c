import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApproverController } from '../../../src/approver/controller.js';
import type { CsrEntry } from '../../../src/approver/informer.js';
import { kubeLookups } from '../../../src/approver/lookups.js';
import { createApproverMetrics } from '../../../src/approver/metrics.js';
import { APPROVER_DEFAULTS as DEFAULTS } from '../../../src/approver/settings.js';
import { getCsr } from '../../../src/kube/csr-api.js';
import { createLogger } from '../../../src/log/logger.js';
import {
  AGENT,
  apiSetup,
  approverMetric,
  requestPem,
  until,
  type ApiSetup,
  type Binding,
} from './helpers.js';

const BOUND: Binding = { nodeName: 'node-a', nodeUid: 'uid-a', podName: 'agent-a', podUid: 'pod-a' };
const IGNORED = { reason: 'requester_not_allowed' };

describe('ApproverController', () => {
  let s: ApiSetup;
  before(async () => {
    s = await apiSetup();
    s.api.setNode({ metadata: { name: 'node-a', uid: 'uid-a' } });
  });
  after(async () => {
    await s.close();
  });

  const entryOf = async (name: string): Promise<CsrEntry> => ({
    csr: await getCsr(s.kube, name),
    raw: (await s.kube.requestJson(
      'GET',
      `/apis/certificates.k8s.io/v1/certificatesigningrequests/${name}`,
    )) as Record<string, unknown>,
  });

  async function controller(
    entries: Map<string, CsrEntry>,
    o: { leader?: () => boolean; events?: boolean; lines?: string[] } = {},
  ): Promise<{
    ctl: ApproverController;
    metric: (name: string, labels?: Record<string, string>) => Promise<number>;
    ac: AbortController;
    done: Promise<void>;
  }> {
    const metrics = await createApproverMetrics();
    const ctl = new ApproverController({
      kube: s.kube,
      metrics,
      allowRequesters: new Set([AGENT]),
      decide: {
        lookups: kubeLookups(s.kube),
        allowNodeBoundTokens: false,
        podLookup: true,
        maxExpirationMs: DEFAULTS.maxExpirationMs,
      },
      workers: 2,
      isLeader: o.leader ?? (() => true),
      lookup: (n) => entries.get(n),
      retryBaseMs: 10,
      retryMaxMs: 20,
      ...(o.events === false ? {} : { eventInstance: 'test-1' }),
      logger: createLogger({ format: 'json', level: 'debug', write: (l) => o.lines?.push(l) }),
    });
    const ac = new AbortController();
    return {
      ctl,
      metric: (name, labels) => approverMetric(metrics, name, labels),
      ac,
      done: ctl.run(ac.signal),
    };
  }

  it('decides owned CSRs once, records metrics and an Event, and counts ignored ones once', async () => {
    const entries = new Map<string, CsrEntry>();
    const lines: string[] = [];
    const c = await controller(entries, { lines });
    const good = await s.createCsr(await requestPem({ node: 'node-a' }), BOUND);
    const bad = await s.createCsr(await requestPem({ node: 'node-b' }), BOUND);
    const other = await s.createCsr(await requestPem({ node: 'node-a' }), BOUND, 'someone-else');
    for (const x of [good, bad, other]) {
      const e = await entryOf(x.metadata.name);
      entries.set(x.metadata.name, e);
      c.ctl.observe(e);
    }
    await until(
      async () =>
        (await c.metric('csrs_approved_total')) === 1 &&
        (await c.metric('csrs_denied_total', { reason: 'NodeMismatch' })) === 1,
    );
    await until(async () => (await c.metric('csrs_ignored_total', IGNORED)) === 1);
    await until(() => s.api.events.length >= 2);
    assert.equal(s.api.csr(good.metadata.name)?.status.conditions?.[0]?.type, 'Approved');
    assert.equal(s.api.csr(bad.metadata.name)?.status.conditions?.[0]?.reason, 'NodeMismatch');
    assert.equal(s.api.csr(other.metadata.name)?.status.conditions, undefined);
    assert.equal(await c.metric('decision_latency_seconds_count', { decision: 'approved' }), 1);
    assert.equal(await c.metric('decision_latency_seconds_count', { decision: 'denied' }), 1);
    const decided = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.decision !== undefined);
    assert.equal(decided.length, 2);
    // The same (now stale) entries again: nothing is written twice, ignored is not re-counted.
    const writes = s.api.requests.filter((r) => r.path.endsWith('/approval')).length;
    c.ctl.requeueAll([...entries.values()]);
    assert.ok(c.ctl.queue.pending > 0, 'the decided CSRs were queued again');
    await until(() => c.ctl.queue.pending === 0, 5000, 'the requeued CSRs to be processed');
    assert.equal(s.api.requests.filter((r) => r.path.endsWith('/approval')).length, writes);
    assert.equal(await c.metric('csrs_ignored_total', IGNORED), 1);
    // Forgetting a deleted CSR lets a new one with the same UID-less key be counted again.
    c.ctl.forget(entries.get(other.metadata.name)?.csr ?? good);
    c.ctl.observe(entries.get(other.metadata.name)!);
    await until(async () => (await c.metric('csrs_ignored_total', IGNORED)) === 2);
    c.ac.abort();
    await c.done;
  });

  it('does nothing while not the leader', async () => {
    const entries = new Map<string, CsrEntry>();
    let leader = false;
    const c = await controller(entries, { leader: () => leader });
    const x = await s.createCsr(await requestPem({ node: 'node-a' }), BOUND);
    const e = await entryOf(x.metadata.name);
    entries.set(x.metadata.name, e);
    c.ctl.observe(e);
    assert.equal(c.ctl.queue.pending, 1);
    await until(() => c.ctl.queue.pending === 0, 5000, 'the CSR to be processed (and left alone)');
    assert.equal(s.api.csr(x.metadata.name)?.status.conditions, undefined);
    assert.equal(
      s.api.requests.filter((r) => r.path.endsWith(`${x.metadata.name}/approval`)).length,
      0,
      'no write while not the leader',
    );
    leader = true;
    c.ctl.requeueAll([e]);
    await until(async () => (await c.metric('csrs_approved_total')) === 1);
    c.ac.abort();
    await c.done;
  });

  it('on a 409: leaves a decision made elsewhere, re-decides a CSR that is still pending', async () => {
    const entries = new Map<string, CsrEntry>();
    const c = await controller(entries, { events: false });
    const x = await s.createCsr(await requestPem({ node: 'node-a' }), BOUND);
    const stale = await entryOf(x.metadata.name);
    s.api.deny(x.metadata.name, 'ByHand', 'an admin');
    entries.set(x.metadata.name, stale);
    c.ctl.observe(stale);
    await until(async () => (await c.metric('approval_conflicts_total')) === 1);
    assert.deepEqual(
      s.api.csr(x.metadata.name)?.status.conditions?.map((k) => k.reason),
      ['ByHand'],
    );
    assert.equal(await c.metric('csrs_approved_total'), 0);

    const y = await s.createCsr(await requestPem({ node: 'node-a' }), BOUND);
    const ey = await entryOf(y.metadata.name);
    entries.set(y.metadata.name, ey);
    s.api.addRule({ method: 'PUT', path: /\/approval$/, respond: { status: 409, reason: 'Conflict' } });
    c.ctl.observe(ey);
    await until(async () => (await c.metric('csrs_approved_total')) === 1);
    assert.equal(await c.metric('approval_conflicts_total'), 2);
    c.ac.abort();
    await c.done;
  });

  it('retries lookup and write failures, counting them; an Event failure does not matter', async () => {
    const entries = new Map<string, CsrEntry>();
    const c = await controller(entries);
    const x = await s.createCsr(await requestPem({ node: 'node-a' }), BOUND);
    const e = await entryOf(x.metadata.name);
    entries.set(x.metadata.name, e);
    s.api.addRule({ method: 'GET', path: '/api/v1/nodes/node-a', respond: { status: 503 } });
    s.api.addRule({ method: 'PUT', path: /\/approval$/, respond: { status: 500 } });
    s.api.addRule({ method: 'POST', path: /\/events$/, respond: { status: 403 } });
    c.ctl.observe(e);
    await until(async () => (await c.metric('csrs_approved_total')) === 1);
    assert.equal(await c.metric('errors_total', { kind: 'lookup' }), 1);
    assert.equal(await c.metric('errors_total', { kind: 'approval' }), 1);
    await until(async () => (await c.metric('errors_total', { kind: 'event' })) === 1);
    // A CSR that keeps changing under us is given up for this round and retried.
    const y = await s.createCsr(await requestPem({ node: 'node-a' }), BOUND);
    const ey = await entryOf(y.metadata.name);
    entries.set(y.metadata.name, ey);
    s.api.addRule({ method: 'PUT', path: /\/approval$/, respond: { status: 409 }, times: 3 });
    c.ctl.observe(ey);
    await until(async () => (await c.metric('csrs_approved_total')) === 2);
    // A CSR that is gone by the time we write is simply dropped.
    const z = await s.createCsr(await requestPem({ node: 'node-a' }), BOUND);
    const ez = await entryOf(z.metadata.name);
    entries.set(z.metadata.name, ez);
    s.api.remove(z.metadata.name);
    c.ctl.observe(ez);
    await until(() => s.api.requests.some((r) => r.path.endsWith(`${z.metadata.name}/approval`)));
    await until(() => c.ctl.queue.pending === 0, 5000, 'the vanished CSR to be dropped');
    assert.equal(await c.metric('csrs_approved_total'), 2);
    c.ac.abort();
    await c.done;
  });
});

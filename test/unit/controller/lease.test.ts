import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LeaderElector, microTime, type LeaderElectionOptions } from '../../../src/controller/lease.js';
import type { AttestorError } from '../../../src/errors.js';
import { apiSetup, type ApiSetup } from '../approver/helpers.js';

describe('LeaderElector', () => {
  let s: ApiSetup;
  before(async () => {
    s = await apiSetup();
  });
  after(async () => {
    await s.close();
  });

  let leaseN = 0;
  const elector = (identity: string, o: Partial<LeaderElectionOptions> = {}, name?: string): LeaderElector =>
    new LeaderElector(s.kube, {
      namespace: 'spire',
      name: name ?? `lease-${String(leaseN)}`,
      identity,
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      random: () => 0,
      ...o,
    });

  it('formats MicroTime with six fractional digits', () => {
    assert.equal(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678)), '2026-01-02T03:04:05.678000Z');
  });

  it('refuses inconsistent timings', () => {
    assert.throws(() => elector('x', { renewDeadlineMs: 15_000 }), { code: 'ERR_USAGE' });
    assert.throws(() => elector('x', { retryPeriodMs: 10_000 }), { code: 'ERR_USAGE' });
    assert.throws(() => elector('x', { retryPeriodMs: 0 }), { code: 'ERR_USAGE' });
  });

  it('creates the Lease, keeps others out until it expires as they observe it, then hands over', async () => {
    leaseN++;
    let clockA = 1_000_000;
    let clockB = 5_000_000; // skewed: only B's own observations count for B
    const a = elector('a', { now: () => clockA });
    const b = elector('b', { now: () => clockB });
    assert.equal(await a.tryAcquireOrRenew(), true);
    const l1 = s.api.lease('spire', `lease-${String(leaseN)}`);
    assert.equal(l1?.spec.holderIdentity, 'a');
    assert.equal(l1.spec.leaseDurationSeconds, 15);
    assert.equal(l1.spec.leaseTransitions, 0);
    assert.equal(l1.spec.acquireTime, microTime(clockA));

    assert.equal(await b.tryAcquireOrRenew(), false);
    assert.equal(b.observedHolder, 'a');
    clockB += 14_000;
    assert.equal(await b.tryAcquireOrRenew(), false, 'not yet expired for b');
    // a renews: b sees a change and restarts its count.
    clockA += 2000;
    assert.equal(await a.tryAcquireOrRenew(), true);
    assert.equal(
      s.api.lease('spire', `lease-${String(leaseN)}`)?.spec.acquireTime,
      microTime(1_000_000),
      'acquireTime kept',
    );
    clockB += 2000;
    assert.equal(await b.tryAcquireOrRenew(), false, 'renewed: b observes a fresh record');
    clockB += 15_001;
    assert.equal(await b.tryAcquireOrRenew(), true, 'unchanged for a whole lease duration: b takes it');
    const l2 = s.api.lease('spire', `lease-${String(leaseN)}`);
    assert.equal(l2?.spec.holderIdentity, 'b');
    assert.equal(l2.spec.leaseTransitions, 1);
    assert.equal(await a.tryAcquireOrRenew(), false, 'a lost it');
    assert.equal(a.isLeader(), false);
  });

  it('loses write races (409) instead of overwriting, and lets request errors through', async () => {
    leaseN++;
    const a = elector('a');
    assert.equal(await a.tryAcquireOrRenew(), true);
    s.api.addRule({ method: 'PUT', path: /\/leases\//, respond: { status: 409, reason: 'Conflict' } });
    assert.equal(await a.tryAcquireOrRenew(), false);
    leaseN++;
    s.api.addRule({ method: 'POST', path: /\/leases$/, respond: { status: 409, reason: 'AlreadyExists' } });
    assert.equal(await elector('c').tryAcquireOrRenew(), false);
    s.api.addRule({ method: 'GET', path: /\/leases\//, respond: { status: 500 } });
    await assert.rejects(elector('c').tryAcquireOrRenew(), { code: 'ERR_KUBE_API' });
    s.api.addRule({ method: 'POST', path: /\/leases$/, respond: { status: 403 } });
    await assert.rejects(elector('c').tryAcquireOrRenew(), { code: 'ERR_KUBE_FORBIDDEN' });
    leaseN++;
    assert.equal(await elector('c').tryAcquireOrRenew(), true);
    s.api.addRule({ method: 'PUT', path: /\/leases\//, respond: { status: 500 } });
    await assert.rejects(elector('c').tryAcquireOrRenew(), { code: 'ERR_KUBE_API' });
    s.api.addRule({
      method: 'GET',
      path: /\/leases\//,
      respond: { status: 200, rawBody: '{"metadata":{}}' },
    });
    await assert.rejects(elector('c').tryAcquireOrRenew(), /malformed Lease/);
  });

  it('runs: one leader, a clean stop releases the Lease and the other takes over at once', async () => {
    // Its own API server: the failure rule below must not outlive this test.
    const own = await apiSetup();
    const fast = { leaseDurationMs: 3000, renewDeadlineMs: 400, retryPeriodMs: 50 };
    const events: string[] = [];
    const errors: AttestorError[] = [];
    const mk = (id: string): LeaderElector =>
      new LeaderElector(own.kube, {
        namespace: 'spire',
        name: 'run',
        identity: id,
        random: () => 0,
        ...fast,
        onStartedLeading: () => events.push(`${id} leads`),
        onStoppedLeading: () => events.push(`${id} stops`),
        onError: (e) => errors.push(e),
      });
    const a = mk('a');
    const b = mk('b');
    const acA = new AbortController();
    const acB = new AbortController();
    const doneA = a.run(acA.signal);
    await own.api.waitUntil(() => a.isLeader());
    const doneB = b.run(acB.signal);
    // b has read the Lease and found a holding it: it must stay a follower.
    await own.api.waitUntil(() => b.observedHolder === 'a');
    assert.equal(b.isLeader(), false);
    assert.deepEqual(events, ['a leads']);
    const t0 = Date.now();
    acA.abort();
    await doneA;
    assert.equal(a.isLeader(), false);
    await own.api.waitUntil(() => b.isLeader(), 2000);
    assert.ok(Date.now() - t0 < 2000, 'did not wait for the 3 s lease to expire');
    assert.deepEqual(events, ['a leads', 'a stops', 'b leads']);

    // b cannot renew: it stops acting when the renew deadline passes, before a successor may start.
    own.api.addRule({ method: 'PUT', path: /\/leases\//, respond: { status: 500 }, times: 1000 });
    await own.api.waitUntil(() => !b.isLeader(), 2000);
    await own.api.waitUntil(() => events.includes('b stops'), 2000);
    assert.ok(errors.length > 0);
    acB.abort();
    await doneB;
    await own.close();
  });

  it('release does nothing when the Lease is not ours, and survives failures', async () => {
    leaseN++;
    const a = elector('a');
    await a.release();
    assert.equal(await a.tryAcquireOrRenew(), true);
    // A conflict that persists (someone keeps writing it): we give up and it expires.
    s.api.addRule({ method: 'PUT', path: /\/leases\//, respond: { status: 409 }, times: 2 });
    await a.release();
    assert.equal(s.api.lease('spire', `lease-${String(leaseN)}`)?.spec.holderIdentity, 'a');
    await a.release();
    assert.equal(s.api.lease('spire', `lease-${String(leaseN)}`)?.spec.holderIdentity, '');
    assert.equal(s.api.lease('spire', `lease-${String(leaseN)}`)?.spec.leaseDurationSeconds, 1);
    assert.equal(await elector('b').tryAcquireOrRenew(), true, 'an empty holder is free to take');
  });

  it('release re-reads a Lease whose resourceVersion went stale (a renewal applied but aborted) and releases it', async () => {
    leaseN++;
    const a = elector('a');
    assert.equal(await a.tryAcquireOrRenew(), true);
    s.api.addRule({ method: 'PUT', path: /\/leases\//, respond: { status: 409 }, times: 1 });
    await a.release();
    assert.equal(s.api.lease('spire', `lease-${String(leaseN)}`)?.spec.holderIdentity, '');
  });
});

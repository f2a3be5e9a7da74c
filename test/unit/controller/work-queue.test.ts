import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff } from '../../../src/util/backoff.js';
import { WorkQueue } from '../../../src/controller/work-queue.js';
import { until } from '../approver/helpers.js';

describe('WorkQueue', () => {
  it('queues a key once, never runs it twice at once, and runs it again when re-added meanwhile', async () => {
    const q = new WorkQueue();
    const ac = new AbortController();
    const log: string[] = [];
    let active = 0;
    let maxActiveForA = 0;
    // The first run of "a" holds until the test has re-added it, so the re-adds land mid-run.
    let releaseA = (): void => undefined;
    const aHeld = new Promise<void>((resolve) => (releaseA = resolve));
    const done = q.run(
      async (key) => {
        if (key === 'a') {
          active++;
          maxActiveForA = Math.max(maxActiveForA, active);
        }
        log.push(`start ${key}`);
        if (key === 'a' && log.filter((l) => l === 'start a').length === 1) await aHeld;
        log.push(`end ${key}`);
        if (key === 'a') active--;
      },
      { concurrency: 3 },
      ac.signal,
    );
    q.add('a');
    q.add('a');
    q.add('b');
    assert.equal(q.length, 2, 'a queued once');
    await until(() => log.includes('start a') && log.includes('end b'));
    q.add('a'); // while a runs: once more afterwards
    q.add('a');
    assert.equal(q.length, 0, 'not queued beside its own run');
    releaseA();
    // pending counts queued, running and retry-waiting keys: at 0 nothing more can run.
    await until(() => q.pending === 0 && log.filter((l) => l === 'end a').length === 2);
    assert.equal(log.filter((l) => l === 'start a').length, 2);
    assert.equal(log.filter((l) => l === 'start b').length, 1);
    assert.equal(maxActiveForA, 1);
    assert.equal(q.length, 0);
    ac.abort();
    await done;
    q.add('c');
    assert.equal(q.length, 0, 'stopped queues take nothing');
  });

  it('retries a failing key with growing delays; forget() and a new add cancel the wait', async () => {
    const q = new WorkQueue();
    const ac = new AbortController();
    const attempts: number[] = [];
    const errors: number[] = [];
    let t0 = 0;
    const done = q.run(
      (key) => {
        if (key === 'ok') return Promise.resolve();
        attempts.push(Date.now() - t0);
        return Promise.reject(new Error('nope'));
      },
      {
        concurrency: 1,
        retryBaseMs: 20,
        retryMaxMs: 40,
        onError: (_k, _e, ms) => {
          errors.push(ms);
          // Forgotten right after its third retry is scheduled (the timer is set once onError
          // returns, before any microtask runs): the scheduled retry must be cancelled.
          if (errors.length === 3)
            queueMicrotask(() => {
              assert.equal(q.pending, 1, 'a retry is scheduled');
              q.forget('bad');
              forgotten();
            });
        },
      },
      ac.signal,
    );
    let forgotten = (): void => undefined;
    const wasForgotten = new Promise<void>((resolve) => (forgotten = resolve));
    t0 = Date.now();
    q.add('bad');
    await wasForgotten;
    assert.deepEqual(errors, [20, 40, 40]);
    assert.equal(q.pending, 0, 'forgotten: no retry left scheduled');
    assert.equal(attempts.length, 3);
    ac.abort();
    await done;
    assert.equal(q.pending, 0, 'timers cleared on stop');
  });

  it('a new add replaces a scheduled retry with an immediate run', async () => {
    const q = new WorkQueue();
    const ac = new AbortController();
    let attempts = 0;
    const done = q.run(
      () => {
        attempts++;
        return Promise.reject(new Error('nope'));
      },
      { concurrency: 1, retryBaseMs: 60_000 },
      ac.signal,
    );
    q.add('k');
    await until(() => attempts === 1 && q.pending === 1);
    q.add('k');
    await until(() => attempts === 2, 2000);
    ac.abort();
    await done;
  });
});

describe('Backoff', () => {
  it('doubles up to the cap, jittered between half and all of the step, and resets', () => {
    const hi = new Backoff(100, 1000, () => 1);
    assert.deepEqual([hi.next(), hi.next(), hi.next(), hi.next(), hi.next()], [100, 200, 400, 800, 1000]);
    hi.reset();
    assert.equal(hi.next(), 100);
    const lo = new Backoff(100, 1000, () => 0);
    assert.deepEqual([lo.next(), lo.next()], [50, 100]);
  });
});

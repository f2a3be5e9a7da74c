import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLineBatcher } from '../../../../src/spire/host/line-batcher.js';

describe('createLineBatcher', () => {
  it('writes the lines of one turn in one write, in order, and schedules once per batch', () => {
    const out: string[] = [];
    const scheduled: (() => void)[] = [];
    const b = createLineBatcher(
      (t) => out.push(t),
      (run) => scheduled.push(run),
    );
    b.write('a\n');
    b.write('b\n');
    assert.deepEqual(out, []);
    assert.equal(scheduled.length, 1);
    scheduled[0]?.();
    assert.deepEqual(out, ['a\nb\n']);
    b.write('c\n');
    assert.equal(scheduled.length, 2);
    b.flush(); // as at exit, before the scheduled turn
    scheduled[1]?.();
    assert.deepEqual(out, ['a\nb\n', 'c\n']);
  });

  it('flushes on its own in the next turn', async () => {
    const out: string[] = [];
    const b = createLineBatcher((t) => out.push(t));
    b.write('x\n');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(out, ['x\n']);
  });
});

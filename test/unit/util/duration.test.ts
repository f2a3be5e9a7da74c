import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatDuration, parseDuration } from '../../../src/util/duration.js';

describe('parseDuration', () => {
  it('reads Go-style durations', () => {
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('10m'), 600_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration(' 2m '), 120_000);
    assert.equal(parseDuration('0'), 0);
  });

  it('rejects what Go rejects', () => {
    for (const bad of ['', '10', 'm', '1d', '-5m', '5 m', '1h-3m', 'h1', '1e3s', '5mm']) {
      assert.equal(parseDuration(bad), undefined, bad);
    }
  });

  it('round-trips formatDuration for whole seconds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000_000 }),
        (s) => parseDuration(formatDuration(s * 1000)) === s * 1000,
      ),
    );
  });
});

describe('formatDuration', () => {
  it('prints like Go', () => {
    assert.equal(formatDuration(300_000), '5m0s');
    assert.equal(formatDuration(90_000), '1m30s');
    assert.equal(formatDuration(3_600_000), '1h0m0s');
    assert.equal(formatDuration(45_000), '45s');
    assert.equal(formatDuration(250), '250ms');
    assert.equal(formatDuration(-5), '0ms');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  formatDuration,
  formatGoDuration,
  parseDuration,
  parseGoDuration,
} from '../../../src/util/duration.js';

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

  it("takes the rest of Go's syntax, but no sign, in whole milliseconds, within Go's range", () => {
    assert.equal(parseDuration('.5s'), 500);
    assert.equal(parseDuration('1500us'), 2);
    assert.equal(parseDuration('2000000ns'), 2);
    for (const bad of ['+5m', '-0', '9999999999h']) assert.equal(parseDuration(bad), undefined, bad);
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

  it('rounds to whole seconds from a second up, unlike formatGoDuration', () => {
    assert.equal(formatDuration(1500), '2s');
    assert.equal(formatGoDuration(1500), '1.5s');
  });
});

describe('parseGoDuration', () => {
  const good: readonly [string, number][] = [
    ['0', 0],
    ['90s', 90_000],
    ['10m', 600_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['.5s', 500],
    ['1.s', 1000],
    ['250ms', 250],
    ['1h1m1s1ms', 3_661_001],
    ['-2m', -120_000],
    ['+3s', 3000],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['1500μs', 1.5],
    ['2000000ns', 2],
  ];
  for (const [text, ms] of good) {
    it(`reads ${text}`, () => {
      assert.equal(parseGoDuration(text), ms);
    });
  }

  for (const text of ['', '10', '1d', 's', '.s', '1 h', '1h ', 'h1', '1hm', '--1s', '1e3s', '9999999999h']) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.equal(parseGoDuration(text), undefined);
    });
  }

  it('never throws and round-trips its own formatting of whole milliseconds', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), (s) => {
        const v = parseGoDuration(s);
        assert.ok(v === undefined || Number.isFinite(v));
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: -1e9, max: 1e9 }), (ms) => {
        assert.equal(parseGoDuration(formatGoDuration(ms)), ms);
      }),
    );
  });
});

describe('formatGoDuration', () => {
  it('prints like Go', () => {
    assert.equal(formatGoDuration(0), '0s');
    assert.equal(formatGoDuration(5_400_000), '1h30m0s');
    assert.equal(formatGoDuration(90_000), '1m30s');
    assert.equal(formatGoDuration(1500), '1.5s');
    assert.equal(formatGoDuration(20), '20ms');
    assert.equal(formatGoDuration(-60_000), '-1m0s');
  });
});

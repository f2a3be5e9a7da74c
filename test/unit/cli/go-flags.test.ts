import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { normalizeBoolFlags, normalizeGoFlags } from '../../../src/cli/go-flags.js';

describe('normalizeGoFlags', () => {
  it('rewrites Go-style single-dash words and keeps the rest', () => {
    assert.deepEqual(normalizeGoFlags(['-ca-cert', 'x', '-ca-cert=y', '--client-key', 'z', '-h', 'pos']), [
      '--ca-cert',
      'x',
      '--ca-cert=y',
      '--client-key',
      'z',
      '-h',
      'pos',
    ]);
  });

  it('stops at --', () => {
    assert.deepEqual(normalizeGoFlags(['-force', '--', '-id-dir']), ['--force', '--', '-id-dir']);
  });

  it('never touches values that do not look like a flag word', () => {
    assert.deepEqual(normalizeGoFlags(['-1', '-', '-=x', '/tmp/-dir']), ['-1', '-', '-=x', '/tmp/-dir']);
  });

  it('is idempotent and keeps the argument count', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 12 }), { maxLength: 8 }), (args) => {
        const once = normalizeGoFlags(args);
        return once.length === args.length && JSON.stringify(normalizeGoFlags(once)) === JSON.stringify(once);
      }),
    );
  });
});

describe('normalizeBoolFlags', () => {
  const bools = new Set(['force']);
  it('maps -force=true/1/t to --force and false/0/f to nothing', () => {
    for (const v of ['true', '1', 't', 'TRUE'])
      assert.deepEqual(normalizeBoolFlags([`--force=${v}`], bools).args, ['--force']);
    for (const v of ['false', '0', 'f'])
      assert.deepEqual(normalizeBoolFlags([`--force=${v}`], bools).args, []);
  });

  it('reports a bad boolean value naming the flag', () => {
    assert.equal(normalizeBoolFlags(['--force=yes'], bools).error, 'invalid boolean value "yes" for -force');
  });

  it('leaves string flags and everything after -- alone', () => {
    assert.deepEqual(normalizeBoolFlags(['--id-dir=false', '--', '--force=x'], bools).args, [
      '--id-dir=false',
      '--',
      '--force=x',
    ]);
  });
});

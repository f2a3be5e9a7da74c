import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { extractBooleans } from '../../../../src/cli/kit/flag-kit.js';
import { normalizeGoFlags } from '../../../../src/cli/kit/go-flags.js';
import { isAttestorError } from '../../../../src/errors.js';

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

describe('extractBooleans', () => {
  const bools = new Set(['force']);
  it('maps -force and -force=true/1/t to true, false/0/f to false, and takes them out', () => {
    for (const a of ['--force', '--force=true', '--force=1', '--force=t', '--force=TRUE']) {
      const r = extractBooleans([a, 'x'], bools);
      assert.deepEqual([r.values.get('force'), r.rest], [true, ['x']], a);
    }
    for (const v of ['false', '0', 'f'])
      assert.equal(extractBooleans([`--force=${v}`], bools).values.get('force'), false);
  });

  it('reports a bad boolean value naming the flag', () => {
    assert.throws(
      () => extractBooleans(['--force=yes'], bools),
      (e: unknown) =>
        isAttestorError(e, 'ERR_USAGE') && e.message === 'invalid boolean value "yes" for -force',
    );
  });

  it('leaves string flags and everything after -- alone', () => {
    const r = extractBooleans(['--id-dir=false', '--', '--force=x'], bools);
    assert.deepEqual([r.rest, r.values.size], [['--id-dir=false', '--', '--force=x'], 0]);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseFlags, type FlagSpec } from '../../../../src/cli/kit/flag-kit.js';
import { isAttestorError } from '../../../../src/errors.js';

const FLAGS: FlagSpec[] = [
  { name: 'ca-cert', type: 'string', help: '', group: 'g' },
  { name: 'id-dir', type: 'string', help: '', group: 'g' },
  { name: 'allow', type: 'string', multiple: true, help: '', group: 'g' },
  { name: 'force', type: 'boolean', help: '', group: 'g' },
];

const usageError = (pattern: RegExp) => (err: unknown) =>
  isAttestorError(err, 'ERR_USAGE') && pattern.test(err.message);

describe('parseFlags', () => {
  it('reads Go style and GNU style, with or without =', () => {
    for (const argv of [['-ca-cert', 'x'], ['-ca-cert=x'], ['--ca-cert', 'x'], ['--ca-cert=x']]) {
      assert.equal(parseFlags(argv, FLAGS).string('ca-cert'), 'x', argv.join(' '));
    }
  });

  it('keeps the last of a repeated flag, and every value of a multiple one', () => {
    const f = parseFlags(['-ca-cert', 'a', '-ca-cert=b', '-allow', 'u1', '--allow=u2'], FLAGS);
    assert.equal(f.string('ca-cert'), 'b');
    assert.deepEqual(f.list('allow'), ['u1', 'u2']);
    assert.deepEqual(f.list('id-dir'), []);
  });

  it('reads booleans as Go does: -b, -b=true, -b=false, never the next word', () => {
    assert.equal(parseFlags(['-force'], FLAGS).bool('force', false), true);
    assert.equal(parseFlags(['--force=false'], FLAGS).bool('force', true), false);
    assert.equal(parseFlags(['-force=T'], FLAGS).bool('force', false), true);
    assert.equal(parseFlags(['-force=0'], FLAGS).bool('force', true), false);
    assert.equal(parseFlags([], FLAGS).bool('force', true), true);
    assert.throws(() => parseFlags(['-force', 'false'], FLAGS), usageError(/^unexpected argument "false"/));
    assert.throws(
      () => parseFlags(['-force=yes'], FLAGS),
      usageError(/^invalid boolean value "yes" for -force \(use -force, -force=true or -force=false\)$/),
    );
  });

  it('takes a value that starts with "-" only after =, and "-" alone as a value', () => {
    assert.equal(parseFlags(['-id-dir=-x'], FLAGS).string('id-dir'), '-x');
    assert.equal(parseFlags(['-id-dir', '-'], FLAGS).string('id-dir'), '-');
    assert.throws(
      () => parseFlags(['-ca-cert', '-force'], FLAGS),
      usageError(
        /^flag -ca-cert needs a value, but "-force" follows it; a value that starts with "-" is written -ca-cert=-force$/,
      ),
    );
  });

  it('says a value is missing at the end', () => {
    assert.throws(() => parseFlags(['-ca-cert'], FLAGS), usageError(/^flag -ca-cert needs a value$/));
  });

  it('names an unknown flag as the user typed its name', () => {
    assert.throws(() => parseFlags(['-bogus'], FLAGS), usageError(/^unknown flag -bogus$/));
    assert.throws(() => parseFlags(['--bogus=1'], FLAGS), usageError(/^unknown flag -bogus$/));
  });

  it('refuses arguments that are not flags, before and after --', () => {
    assert.throws(() => parseFlags(['pos'], FLAGS), usageError(/^unexpected argument "pos"/));
    assert.throws(() => parseFlags(['-5m'], FLAGS), usageError(/^unexpected argument "-5m"/));
    assert.throws(() => parseFlags(['--', '-force'], FLAGS), usageError(/^unexpected argument "-force"/));
    assert.equal(parseFlags(['-force', '--'], FLAGS).bool('force', false), true);
  });

  it('knows -h, -help and --help without a table entry', () => {
    for (const h of ['-h', '-help', '--help', '--help=true'])
      assert.equal(parseFlags([h], FLAGS).help, true, h);
    assert.equal(parseFlags(['-help=false'], FLAGS).help, false);
  });

  it('either parses or throws a usage error, whatever the words', () => {
    const word = fc.oneof(
      fc.constantFrom(
        '-ca-cert',
        '--id-dir',
        '-force',
        '-force=false',
        '-allow',
        '--',
        '-',
        '-h',
        '-x',
        'v',
        '-=x',
      ),
      fc.string({ maxLength: 8 }),
    );
    fc.assert(
      fc.property(fc.array(word, { maxLength: 8 }), (argv) => {
        try {
          parseFlags(argv, FLAGS);
          return true;
        } catch (err) {
          return isAttestorError(err, 'ERR_USAGE');
        }
      }),
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAttestorError } from '../../../../src/errors.js';
import { ConfigReader } from '../../../../src/spire/host/config-reader.js';

function configError(fn: () => unknown): { message: string; key: unknown } {
  try {
    fn();
  } catch (err) {
    assert.ok(isAttestorError(err, 'ERR_CONFIG'), `expected ERR_CONFIG, got ${String(err)}`);
    return { message: err.message, key: err.details.key };
  }
  assert.fail('expected an ERR_CONFIG error');
}

const SAMPLE = `
name = "k8s"
port = 8443
debug = true
ttl = "1h30m"
paths = ["/a", "/b"]
clusters "a" {
  ca_bundle_path = "/x"
  labels = ["zone"]
}
clusters "b c" {
  ca_bundle_path = "/y"
}
`;

describe('ConfigReader', () => {
  it('reads every type and passes done() when all keys were read', () => {
    const r = ConfigReader.parse(SAMPLE);
    assert.equal(r.requiredString('name'), 'k8s');
    assert.equal(r.requiredInt('port', { min: 1, max: 65535 }), 8443);
    assert.equal(r.requiredBool('debug'), true);
    assert.equal(r.requiredDuration('ttl'), 5_400_000);
    assert.deepEqual(r.requiredStringList('paths'), ['/a', '/b']);
    const clusters = r.objectMap('clusters');
    assert.deepEqual([...clusters.keys()], ['a', 'b c']);
    assert.equal(clusters.get('a')?.requiredString('ca_bundle_path'), '/x');
    assert.deepEqual(clusters.get('a')?.optionalStringList('labels'), ['zone']);
    assert.equal(clusters.get('b c')?.requiredString('ca_bundle_path'), '/y');
    assert.equal(clusters.get('b c')?.optionalStringList('labels'), undefined);
    r.done();
  });

  it('gives undefined for absent optional keys and an empty map for an absent map', () => {
    const r = ConfigReader.parse('');
    assert.equal(r.optionalString('a'), undefined);
    assert.equal(r.optionalInt('b'), undefined);
    assert.equal(r.optionalBool('c'), undefined);
    assert.equal(r.optionalDuration('d'), undefined);
    assert.equal(r.optionalStringList('e'), undefined);
    assert.equal(r.optionalObject('f'), undefined);
    assert.equal(r.objectMap('g').size, 0);
    assert.equal(r.has('a'), false);
    r.done();
  });

  it('reads JSON the same way', () => {
    const r = ConfigReader.parse('{"clusters": {"a": {"ca_bundle_path": "/x"}}, "port": 1}');
    assert.equal(r.objectMap('clusters').get('a')?.requiredString('ca_bundle_path'), '/x');
    assert.equal(r.optionalInt('port'), 1);
    r.done();
  });

  it('names an unknown key and its path, with the known keys', () => {
    const r = ConfigReader.parse('clusters "a" { ca_bundle_pth = "/x" }');
    for (const c of r.objectMap('clusters').values()) c.optionalString('ca_bundle_path');
    const e = configError(() => {
      r.done();
    });
    assert.match(e.message, /unknown key "ca_bundle_pth" in clusters\."a"; known keys: ca_bundle_path$/);
    assert.equal(e.key, 'clusters."a".ca_bundle_pth');
  });

  it('names an unknown top-level key', () => {
    const r = ConfigReader.parse('a = 1\ntypo = 2');
    r.optionalInt('a');
    assert.match(
      configError(() => {
        r.done();
      }).message,
      /^invalid plugin configuration: unknown key "typo"; known keys: a$/,
    );
  });

  it('checks unknown keys inside nested objects read through optionalObject', () => {
    const r = ConfigReader.parse('tls { cert = "c"\n extra = 1 }');
    r.optionalObject('tls')?.optionalString('cert');
    assert.match(
      configError(() => {
        r.done();
      }).message,
      /unknown key "extra" in tls/,
    );
  });

  it('names missing required keys', () => {
    const r = ConfigReader.parse('clusters "a" {}');
    const a = r.objectMap('clusters').get('a');
    assert.ok(a);
    const e = configError(() => a.requiredString('ca_bundle_path'));
    assert.match(e.message, /missing required key "ca_bundle_path" in clusters\."a"/);
    assert.match(
      configError(() => ConfigReader.parse('').requiredInt('port')).message,
      /missing required key "port"$/,
    );
  });

  const wrong: readonly [string, (r: ConfigReader) => unknown, RegExp][] = [
    ['v = 1', (r) => r.optionalString('v'), /v: expected a string, got the number 1/],
    ['v = ""', (r) => r.requiredString('v'), /v: must not be empty/],
    ['v = "1"', (r) => r.optionalInt('v'), /v: expected an integer, got the string "1"/],
    ['v = 1.5', (r) => r.optionalInt('v'), /v: expected an integer, got the number 1.5/],
    ['v = 0', (r) => r.optionalInt('v', { min: 1 }), /v: must be at least 1, got 0/],
    ['v = 70000', (r) => r.optionalInt('v', { max: 65535 }), /v: must be at most 65535, got 70000/],
    ['v = "true"', (r) => r.optionalBool('v'), /v: expected true or false, got the string "true"/],
    [
      'v = 600',
      (r) => r.optionalDuration('v'),
      /v: expected a duration string such as "90s".*got the number 600/,
    ],
    ['v = "10 min"', (r) => r.optionalDuration('v'), /v: expected a duration string/],
    ['v = "-1s"', (r) => r.optionalDuration('v'), /v: must be at least 0s, got "-1s"/],
    ['v = "2h"', (r) => r.optionalDuration('v', { max: 3_600_000 }), /v: must be at most 1h0m0s, got "2h"/],
    ['v = "1s"', (r) => r.optionalDuration('v', { min: 5000 }), /v: must be at least 5s/],
    ['v = "a"', (r) => r.optionalStringList('v'), /v: expected a list of strings, got the string "a"/],
    ['v = ["a", 2]', (r) => r.optionalStringList('v'), /v\[1\]: expected a string, got the number 2/],
    ['v = [true]', (r) => r.requiredStringList('v'), /v\[0\]: expected a string, got the boolean true/],
    ['v = [1]', (r) => r.optionalObject('v'), /v: expected a block \{ \.\.\. \}, got a list/],
    ['v = { a = 1 }', (r) => r.objectMap('v'), /v\."a": expected a block \{ \.\.\. \}, got the number 1/],
    [
      'v { a = { x = 1 } }',
      (r) => r.objectMap('v').get('a')?.optionalString('x'),
      /v\."a"\.x: expected a string/,
    ],
    ['"odd key" = 1', (r) => r.optionalString('odd key'), /"odd key": expected a string/],
  ];
  for (const [text, read, re] of wrong) {
    it(`refuses ${text}, naming the key and the expected type`, () => {
      const r = ConfigReader.parse(text);
      const e = configError(() => read(r));
      assert.match(e.message, /^invalid plugin configuration: /);
      assert.match(e.message, re);
    });
  }

  it('truncates long strings in messages', () => {
    const e = configError(() => ConfigReader.parse(`v = "${'x'.repeat(100)}"`).optionalInt('v'));
    assert.match(e.message, /got the string "x{40}…"$/);
  });

  it('lists keys without consuming them', () => {
    const r = ConfigReader.parse('a = 1\nb = 2');
    assert.deepEqual(r.keys(), ['a', 'b']);
    assert.equal(r.has('b'), true);
    assert.throws(() => {
      r.done();
    }, /unknown key "a"/);
  });
});

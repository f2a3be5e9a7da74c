import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  decodeStrictPemCertificates,
  parsePemBundle,
  parsePemChain,
  readPemBlocks,
  type PemResult,
} from '../../../src/x509/pem.js';
import { createCa, type TestCert } from '../../support/pki.js';

const block = (type: string, body: string): string =>
  `-----BEGIN ${type}-----\n${body}\n-----END ${type}-----\n`;

function problemOf<P>(r: PemResult<unknown, P>): P {
  assert.equal(r.ok, false);
  return r.problem;
}

let ca: TestCert;
let other: TestCert;
before(async () => {
  ca = await createCa('CN=pem-ca');
  other = await createCa('CN=other-ca');
});

describe('readPemBlocks', () => {
  it('returns every block with its label, text and body, skipping text around them', () => {
    const pem = `comment\n${block('EC PARAMETERS', 'BggqhkjOPQMBBw==')}subject=x\n${block('EC PRIVATE KEY', 'MAA=')}`;
    const r = readPemBlocks(pem);
    assert.ok(r.ok);
    assert.deepEqual(
      r.value.map((b) => [b.label, b.body]),
      [
        ['EC PARAMETERS', 'BggqhkjOPQMBBw==\n'],
        ['EC PRIVATE KEY', 'MAA=\n'],
      ],
    );
    assert.equal(r.value[1]?.text, block('EC PRIVATE KEY', 'MAA=').trimEnd());
  });

  it('refuses a block whose END names another label instead of stretching it to a later END', () => {
    const pem = `-----BEGIN CERTIFICATE-----\nMAA=\n-----END X509 CRL-----\n${block('CERTIFICATE', 'MAA=')}`;
    assert.deepEqual(problemOf(readPemBlocks(pem)), {
      kind: 'mismatched-end',
      block: 1,
      begin: 'CERTIFICATE',
      end: 'X509 CRL',
    });
  });

  it('ignores an unterminated BEGIN, as before', () => {
    const r = readPemBlocks('-----BEGIN CERTIFICATE-----\nMAA=\n');
    assert.ok(r.ok);
    assert.deepEqual(r.value, []);
  });
});

describe('decodeStrictPemCertificates', () => {
  it('decodes each CERTIFICATE block', () => {
    const r = decodeStrictPemCertificates(
      `${block('CERTIFICATE', 'MAMC\nAQE=')}\n${block('CERTIFICATE', 'MAA=')}`,
    );
    assert.ok(r.ok);
    assert.deepEqual(r.value, [Buffer.from('3003020101', 'hex'), Buffer.from('3000', 'hex')]);
  });

  it('reports each problem, the first one in the text first', () => {
    const cases: [string, unknown][] = [
      ['', { kind: 'no-certificate' }],
      ['only text', { kind: 'no-certificate' }],
      [`x${block('CERTIFICATE', 'MAA=')}`, { kind: 'text-before', block: 1 }],
      [`${block('CERTIFICATE', 'MAA=')}x`, { kind: 'text-after' }],
      [block('PRIVATE KEY', 'MAA='), { kind: 'not-certificate', block: 1, label: 'PRIVATE KEY' }],
      [block('CERTIFICATE', 'MAB='), { kind: 'bad-base64', block: 1 }],
      // The key in block 1 is reported before the text after block 2.
      [
        `${block('PRIVATE KEY', 'MAA=')}${block('CERTIFICATE', 'MAA=')}x`,
        { kind: 'not-certificate', block: 1, label: 'PRIVATE KEY' },
      ],
    ];
    for (const [pem, problem] of cases)
      assert.deepEqual(problemOf(decodeStrictPemCertificates(pem)), problem, pem);
  });
});

describe('parsePemChain and parsePemBundle', () => {
  it('parse certificates in order, ignoring text around blocks', () => {
    const pem = `subject=CN=pem-ca\n${ca.pem}\n# the other\n${other.pem}`;
    for (const r of [parsePemChain(pem), parsePemBundle(pem)]) {
      assert.ok(r.ok);
      assert.deepEqual(
        r.value.map((c) => c.cert.fingerprint256),
        [ca.cert.fingerprint256, other.cert.fingerprint256],
      );
      assert.equal(r.value[0]?.block.text, ca.pem.trim());
    }
  });

  it('differ on other blocks: a chain refuses them, a bundle skips them', () => {
    const pem = `${ca.pem}${block('PRIVATE KEY', 'MAA=')}${other.pem}`;
    assert.deepEqual(problemOf(parsePemChain(pem)), {
      kind: 'not-certificate',
      block: 2,
      label: 'PRIVATE KEY',
    });
    const r = parsePemBundle(pem);
    assert.ok(r.ok);
    assert.equal(r.value.length, 2);
  });

  it('number unparsable certificates among CERTIFICATE blocks only', () => {
    const p = problemOf(
      parsePemBundle(`${block('X509 CRL', 'MAA=')}${ca.pem}${block('CERTIFICATE', 'MAA=')}`),
    );
    assert.ok(p.kind === 'unparsable');
    assert.equal(p.certificate, 2);
  });

  it('require a certificate', () => {
    assert.deepEqual(problemOf(parsePemChain('nothing')), { kind: 'no-certificate' });
    assert.deepEqual(problemOf(parsePemBundle(block('X509 CRL', 'MAA='))), { kind: 'no-certificate' });
  });

  it('refuse mismatched markers', () => {
    const pem = `${ca.pem}-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n`;
    for (const r of [parsePemChain(pem), parsePemBundle(pem)])
      assert.deepEqual(problemOf(r), {
        kind: 'mismatched-end',
        block: 2,
        begin: 'CERTIFICATE',
        end: 'CERTIFICATE REQUEST',
      });
  });
});

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { MAX_CERTIFICATE_DER_BYTES, MAX_PEM_BYTES } from '../../../src/x509/limits.js';
import {
  decodeStrictPemCertificates,
  encodePem,
  parsePemBundle,
  parsePemChain,
  readPemBlocks,
  sizeProblemText,
  type PemResult,
  type SizeProblem,
  type TooLarge,
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

/** 1 MiB of BEGIN lines that no END closes: the input that made the old scan quadratic. */
function unterminatedBegins(bytes: number): string {
  const line = '-----BEGIN CERTIFICATE-----\n';
  return line.repeat(Math.ceil(bytes / line.length));
}

describe('hostile input', () => {
  it('reads a valid block followed by 1 MiB of unterminated BEGIN lines: the block, nothing else', () => {
    const r = readPemBlocks(`${ca.pem}${unterminatedBegins(1024 * 1024)}`);
    assert.ok(r.ok);
    assert.deepEqual(
      r.value.map((b) => b.text),
      [ca.pem.trim()],
    );
    // Read strictly (a CA bundle, an identity chain), the junk is text after the last block.
    const strict = decodeStrictPemCertificates(`${ca.pem}${unterminatedBegins(1024 * 1024)}`);
    assert.deepEqual(problemOf(strict), { kind: 'text-after' });
  });

  it('refuses PEM input over MAX_PEM_BYTES before reading a block, whatever reads it', () => {
    const huge = `${ca.pem}${unterminatedBegins(MAX_PEM_BYTES)}`;
    const size = Buffer.byteLength(huge);
    const tooLarge = { kind: 'too-large', size, limit: MAX_PEM_BYTES };
    assert.deepEqual(problemOf(readPemBlocks(huge)), tooLarge);
    assert.deepEqual(problemOf(readPemBlocks(Buffer.from(huge))), tooLarge);
    assert.deepEqual(problemOf(decodeStrictPemCertificates(huge)), tooLarge);
    assert.deepEqual(problemOf(parsePemChain(huge)), tooLarge);
    assert.deepEqual(problemOf(parsePemBundle(huge)), tooLarge);
    assert.equal(sizeProblemText(tooLarge as TooLarge), `is ${size} bytes; the limit for PEM input is 4 MiB`);
    // Exactly at the limit is still read.
    const atLimit = ca.pem + ' '.repeat(MAX_PEM_BYTES - Buffer.byteLength(ca.pem));
    assert.ok(parsePemBundle(atLimit).ok);
  });

  it('refuses a certificate block over MAX_CERTIFICATE_DER_BYTES before decoding or parsing it', () => {
    const big = encodePem('CERTIFICATE', Buffer.alloc(MAX_CERTIFICATE_DER_BYTES + 1, 0x30));
    const pem = `${ca.pem}${big}`;
    const p = { kind: 'certificate-too-large', certificate: 2, limit: MAX_CERTIFICATE_DER_BYTES };
    assert.deepEqual(problemOf(decodeStrictPemCertificates(pem)), p);
    assert.deepEqual(problemOf(parsePemChain(pem)), p);
    assert.deepEqual(problemOf(parsePemBundle(pem)), p);
    assert.match(
      sizeProblemText(p as SizeProblem),
      /^certificate #2 is larger than the limit of 16 KiB of DER$/,
    );
  });

  it('keeps a large legitimate CA bundle: 1000 certificates', () => {
    const bundle = Array.from({ length: 500 }, () => `${ca.pem}${other.pem}`).join('');
    const r = parsePemBundle(bundle);
    assert.ok(r.ok);
    assert.equal(r.value.length, 1000);
  });
});

/**
 * The block rule the scanner replaced, as a regular expression: the same framing, found by
 * rescanning to the end of the input for each BEGIN without an END. The reference for the
 * differential test below.
 */
const OLD_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

function oldBlocks(text: string): [string, string, string, number][] {
  return [...text.matchAll(OLD_BLOCK)].map((m) => [m[1] ?? '', m[2] ?? '', m[3] ?? '', m.index]);
}

describe('the linear scanner', () => {
  it('finds exactly the blocks the old regular expression found, on 20000 generated inputs', () => {
    // Fragments that make markers, near-markers, labels and line ends collide.
    const parts = [
      '-----BEGIN ',
      '-----END ',
      '-----',
      '----',
      'CERTIFICATE',
      'X509 CRL',
      'a',
      ' ',
      '\n',
      '\r\n',
      '\r',
      'MAA=',
      '-',
      'BEGIN',
      '-----BEGIN CERTIFICATE-----\n',
      '-----END CERTIFICATE-----',
      '-----END X509 CRL-----',
      'CERTIFICATE-----\n',
      'X509 CRL-----\r\n',
    ];
    let seed = 7;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return (seed >>> 8) % n;
    };
    let withBlocks = 0;
    for (let i = 0; i < 20000; i++) {
      const text = Array.from({ length: 1 + random(24) }, () => parts[random(parts.length)]).join('');
      const expected = oldBlocks(text);
      if (expected.length > 0) withBlocks++;
      const r = readPemBlocks(text);
      const firstMismatch = expected.findIndex(([begin, , end]) => begin !== end);
      if (firstMismatch >= 0) {
        const [begin, , end] = expected[firstMismatch]!;
        assert.deepEqual(
          problemOf(r),
          { kind: 'mismatched-end', block: firstMismatch + 1, begin, end },
          JSON.stringify(text),
        );
        continue;
      }
      assert.ok(r.ok, JSON.stringify(text));
      // Where each block starts: blocks do not overlap, so search on from the previous one.
      let from = 0;
      const found = r.value.map((b) => {
        const index = text.indexOf(b.text, from);
        from = index + b.text.length;
        return [b.label, b.body, b.label, index];
      });
      assert.deepEqual(found, expected, JSON.stringify(text));
    }
    assert.ok(withBlocks > 4000, `only ${withBlocks} inputs held a block: the generator tests too little`);
  });
});

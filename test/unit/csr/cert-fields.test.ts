import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { OID, certificateFields, formatSubject } from '../../../src/csr/cert-fields.js';
import type { Rdn } from '../../../src/csr/cert-fields.js';
import { TAG, decodeOid, decodeString, decodeTime, parseDer } from '../../../src/csr/der.js';
import { nodeNameFromSubject } from '../../../src/csr/profile.js';
import { isAttestorError } from '../../../src/errors.js';
import { EKU, createCa, createCert, createNodeClientCert } from '../../support/pki.js';

const SHORT_TO_OID: Record<string, string> = {
  CN: OID.commonName,
  O: OID.organization,
  OU: '2.5.4.11',
  L: '2.5.4.7',
  ST: '2.5.4.8',
};

/** Our reader's view of a subject, in @peculiar/x509's JSON shape, for comparison. */
const asJson = (subject: readonly Rdn[]): x509.JsonName =>
  subject.map((rdn) => {
    const out: Record<string, string[]> = {};
    for (const a of rdn) {
      const short = Object.keys(SHORT_TO_OID).find((k) => SHORT_TO_OID[k] === a.type) ?? a.type;
      (out[short] ??= []).push(a.value ?? '');
    }
    return out;
  });

describe('certificateFields', () => {
  it('reads a node client certificate: subject, validity, EKU', async () => {
    const ca = await createCa();
    const notBefore = new Date('2026-01-02T03:04:05Z');
    const notAfter = new Date('2026-01-03T03:04:05Z');
    const leaf = await createNodeClientCert(ca, 'n1', { notBefore, notAfter });
    const f = certificateFields(leaf.cert.raw);
    assert.deepEqual(f.subject, [
      [{ type: OID.organization, value: 'system:nodes' }],
      [{ type: OID.commonName, value: 'system:node:n1' }],
    ]);
    assert.deepEqual(f.notBefore, notBefore);
    assert.deepEqual(f.notAfter, notAfter);
    assert.deepEqual(f.extKeyUsage, [EKU.clientAuth]);
  });

  it('reads GeneralizedTime (2050 and later) and several EKUs; undefined without the extension', async () => {
    const notAfter = new Date('2061-07-08T09:10:11Z');
    const c = await createCert({ subject: 'CN=x', notAfter, extKeyUsage: [EKU.serverAuth, EKU.clientAuth] });
    assert.deepEqual(certificateFields(c.cert.raw).notAfter, notAfter);
    assert.deepEqual(certificateFields(c.cert.raw).extKeyUsage, [EKU.serverAuth, EKU.clientAuth]);
    const plain = await createCert({ subject: 'CN=y' });
    assert.equal(certificateFields(plain.cert.raw).extKeyUsage, undefined);
  });

  it('agrees with @peculiar/x509 on arbitrary subjects (multi-valued RDNs, unicode)', async () => {
    const ca = await createCa();
    // @peculiar/x509's Name builder treats RFC 4514 specials (leading '#', quotes, edge spaces,
    // separators) as syntax, so keep to values it passes through verbatim.
    const value = fc
      .string({ minLength: 1, maxLength: 12, unit: 'grapheme' })
      .filter((v) => v.trim() === v && !/^#|["+,;<>\\=]/.test(v));
    const rdn = fc.dictionary(
      fc.constantFrom('CN', 'O', 'OU', 'L', 'ST'),
      fc.array(value, { minLength: 1, maxLength: 2 }),
      {
        minKeys: 1,
        maxKeys: 2,
      },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(rdn, { minLength: 1, maxLength: 4 }), async (subject) => {
        const c = await createCert({ subject, issuer: ca });
        const expected = new x509.X509Certificate(c.der).subjectName.toJSON();
        assert.deepEqual(asJson(certificateFields(c.cert.raw).subject), expected);
      }),
      { numRuns: 40 },
    );
  });

  it('throws ERR_INPUT, never anything else, for arbitrary or truncated input', async () => {
    const ca = await createCa();
    const der = (await createNodeClientCert(ca, 'n1')).der;
    const onlyErrInput = (buf: Buffer): void => {
      try {
        certificateFields(buf);
      } catch (err) {
        assert.ok(isAttestorError(err, 'ERR_INPUT'), String(err));
      }
    };
    for (let cut = 0; cut < der.length; cut += 7) onlyErrInput(der.subarray(0, cut));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        onlyErrInput(Buffer.from(bytes));
      }),
    );
    fc.assert(
      fc.property(fc.nat(der.length - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const copy = Buffer.from(der);
        copy[i] = (copy[i] ?? 0) ^ x;
        onlyErrInput(copy);
      }),
    );
  });
});

describe('DER primitives', () => {
  const time = (tag: number, text: string): Date => decodeTime({ tag, content: Buffer.from(text, 'latin1') });

  it('decodes UTCTime with the RFC 5280 century rule and GeneralizedTime', () => {
    assert.deepEqual(time(TAG.utcTime, '491231235959Z'), new Date('2049-12-31T23:59:59Z'));
    assert.deepEqual(time(TAG.utcTime, '500101000000Z'), new Date('1950-01-01T00:00:00Z'));
    assert.deepEqual(time(TAG.generalizedTime, '20500101000000Z'), new Date('2050-01-01T00:00:00Z'));
  });

  it('rejects malformed times', () => {
    for (const [tag, text] of [
      [TAG.utcTime, '251301000000Z'],
      [TAG.utcTime, '250230000000Z'],
      [TAG.utcTime, '250101000060Z'],
      [TAG.utcTime, '2501010000Z'],
      [TAG.utcTime, '250101000000+0100'],
      [TAG.generalizedTime, '20250101000000.5Z'],
      [TAG.generalizedTime, '00490101000000Z'],
      [TAG.utf8String, '250101000000Z'],
    ] as const)
      assert.throws(
        () => time(tag, text),
        (err: unknown) => isAttestorError(err, 'ERR_INPUT'),
        text,
      );
  });

  it('decodes OIDs, including large arcs and the 2.x top arc', () => {
    const oid = (hex: string): string => decodeOid(parseDer(Buffer.from(hex, 'hex')));
    assert.equal(oid('06082b06010505070302'), '1.3.6.1.5.5.7.3.2');
    assert.equal(oid('0603551d25'), '2.5.29.37');
    assert.equal(oid('0603883703'), '2.999.3');
    assert.throws(
      () => oid('06022b86'),
      (err: unknown) => isAttestorError(err, 'ERR_INPUT'),
    );
  });

  it('decodes the directory string types', () => {
    const str = (tag: number, content: Buffer): string | undefined => decodeString({ tag, content });
    assert.equal(str(TAG.utf8String, Buffer.from('ünï', 'utf8')), 'ünï');
    assert.equal(str(TAG.printableString, Buffer.from('system:nodes')), 'system:nodes');
    assert.equal(str(TAG.bmpString, Buffer.from('0073003a00e9', 'hex')), 's:é');
    assert.equal(str(TAG.bmpString, Buffer.from('0073ff', 'hex')), undefined);
    assert.equal(str(TAG.universalString, Buffer.from('0001f600', 'hex')), '😀');
    assert.equal(str(TAG.universalString, Buffer.from('00110000', 'hex')), undefined);
    assert.equal(str(TAG.universalString, Buffer.from('000000', 'hex')), undefined);
    assert.equal(str(TAG.octetString, Buffer.from('x')), undefined);
  });

  it('rejects indefinite lengths, high tags and trailing data', () => {
    for (const hex of ['3080', '1f0100', '300000', '3002'])
      assert.throws(
        () => parseDer(Buffer.from(hex, 'hex')),
        (err: unknown) => isAttestorError(err, 'ERR_INPUT'),
        hex,
      );
  });
});

describe('nodeNameFromSubject', () => {
  const o = (value: string) => ({ type: OID.organization, value });
  const cn = (value: string) => ({ type: OID.commonName, value });

  it('accepts exactly O=system:nodes then CN=system:node:<name>', () => {
    assert.equal(nodeNameFromSubject([[o('system:nodes')], [cn('system:node:n1')]]), 'n1');
  });

  it('rejects every other shape', () => {
    const bad: (readonly Rdn[])[] = [
      [],
      [[cn('system:node:n1')]],
      [[cn('system:node:n1')], [o('system:nodes')]],
      [[o('system:nodes'), cn('system:node:n1')]],
      [[o('system:nodes')], [o('system:nodes')], [cn('system:node:n1')]],
      [[o('system:nodes')], [cn('system:node:n1')], [{ type: '2.5.4.11', value: 'x' }]],
      [[o('system:masters')], [cn('system:node:n1')]],
      [[o('system:nodes')], [cn('system:node:')]],
      [[o('system:nodes')], [cn('node:n1')]],
      [[o('system:nodes')], [{ type: OID.commonName, value: undefined }]],
    ];
    for (const s of bad) assert.equal(nodeNameFromSubject(s), undefined, formatSubject(s));
  });

  it('formats subjects for messages', () => {
    assert.equal(
      formatSubject([[o('system:nodes')], [cn('system:node:n1')]]),
      'O=system:nodes, CN=system:node:n1',
    );
    assert.equal(formatSubject([[o('a'), { type: '1.2.3', value: undefined }]]), 'O=a + 1.2.3=(undecoded)');
    assert.equal(formatSubject([]), '(empty)');
  });
});

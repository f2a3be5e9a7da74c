/**
 * The one certificate reader (src/x509/certificate-reader.ts): spans, fields and the canonical
 * mark, on certificates made by @peculiar/x509 and on broken and hostile input. Its agreement with
 * @peculiar/x509 where the server takes its fields is test/unit/attestation/chain/fast-path.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import {
  readCertificateDer,
  readCertificateFields,
  type CertificateFields,
} from '../../../src/x509/certificate-reader.js';
import { DerError } from '../../../src/x509/der.js';
import type { Rdn } from '../../../src/x509/name.js';
import { ATTRIBUTE_TYPES, OID } from '../../../src/x509/oids.js';
import { isAttestorError } from '../../../src/errors.js';
import { EKU, KU, createCa, createCert, createNodeClientCert } from '../../support/pki.js';

const SHORT_NAMES = new Map(Object.entries(ATTRIBUTE_TYPES).map(([short, oid]) => [oid, short]));

/** Our reader's view of a subject, in @peculiar/x509's JSON shape, for comparison. */
const asJson = (subject: readonly Rdn[]): x509.JsonName =>
  subject.map((rdn) => {
    const out: Record<string, string[]> = {};
    for (const a of rdn) (out[SHORT_NAMES.get(a.type) ?? a.type] ??= []).push(a.value ?? '');
    return out;
  });

/** The fields of `der`, which must read. */
function fieldsOf(der: Buffer): CertificateFields {
  const { fields } = readCertificateDer(der);
  if (fields instanceof DerError) assert.fail(fields.message);
  return fields;
}

describe('readCertificateFields', () => {
  it('reads a node client certificate: subject, validity, EKU', async () => {
    const ca = await createCa();
    const notBefore = new Date('2026-01-02T03:04:05Z');
    const notAfter = new Date('2026-01-03T03:04:05Z');
    const leaf = await createNodeClientCert(ca, 'n1', { notBefore, notAfter });
    const f = readCertificateFields(leaf.cert.raw);
    assert.deepEqual(f.subject, [
      [{ type: OID.organization, value: 'system:nodes' }],
      [{ type: OID.commonName, value: 'system:node:n1' }],
    ]);
    assert.deepEqual(f.notBefore, notBefore);
    assert.deepEqual(f.notAfter, notAfter);
    assert.deepEqual(f.extKeyUsage, [EKU.clientAuth]);
    assert.equal(f.canonical, true);
  });

  it('reads GeneralizedTime (2050 and later) and several EKUs; undefined without the extension', async () => {
    const notAfter = new Date('2061-07-08T09:10:11Z');
    const c = await createCert({ subject: 'CN=x', notAfter, extKeyUsage: [EKU.serverAuth, EKU.clientAuth] });
    assert.deepEqual(readCertificateFields(c.cert.raw).notAfter, notAfter);
    assert.deepEqual(readCertificateFields(c.cert.raw).extKeyUsage, [EKU.serverAuth, EKU.clientAuth]);
    const plain = await createCert({ subject: 'CN=y' });
    assert.equal(readCertificateFields(plain.cert.raw).extKeyUsage, undefined);
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
        assert.deepEqual(asJson(readCertificateFields(c.cert.raw).subject), expected);
      }),
      { numRuns: 40 },
    );
  });

  it('throws ERR_INPUT, never anything else, for arbitrary or truncated input', async () => {
    const ca = await createCa();
    const der = (await createNodeClientCert(ca, 'n1')).der;
    const onlyErrInput = (buf: Buffer): void => {
      try {
        readCertificateFields(buf);
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

describe('readCertificateDer', () => {
  it('finds the spans: names, serial, signature algorithm, key algorithm', async () => {
    const root = await createCa('CN=root-ca');
    const leaf = await createNodeClientCert(root, 'n', { serialHex: '0a0b0c' });
    const read = readCertificateDer(leaf.der);
    assert.equal(read.signatureAlgorithm, '1.2.840.10045.4.3.2');
    assert.equal(read.signatureParameters, undefined);
    assert.equal(read.signatureAlgorithmsMatch, true);
    assert.equal(read.serial.toString('hex'), '0a0b0c');
    assert.ok(read.rawIssuer.equals(readCertificateDer(root.der).rawSubject));
    assert.ok(
      read.rawSubject.equals(Buffer.from(new x509.X509Certificate(leaf.der).subjectName.toArrayBuffer())),
    );
    assert.equal(read.keyAlgorithm, '1.2.840.10045.2.1');
    assert.equal(read.keyParameterOid, '1.2.840.10045.3.1.7');
  });

  it('reads the extensions the checks use', async () => {
    const root = await createCa('CN=root-ca');
    const ca = await createCa('CN=intermediate', { issuer: root, pathLength: 3 });
    const f = fieldsOf(ca.der);
    assert.deepEqual(f.basicConstraints, { ca: true, pathLength: 3 });
    assert.equal(f.keyUsage, KU.keyCertSign | KU.cRLSign | KU.digitalSignature);
    assert.equal(f.authorityKeyId, fieldsOf(root.der).subjectKeyId);
    assert.match(f.subjectKeyId ?? '', /^[0-9a-f]{40}$/);
    assert.deepEqual([...f.criticalExtensions].sort(), [OID.keyUsage, OID.basicConstraints].sort());
    assert.equal(f.hasSubjectAltName, false);
    const san = await createNodeClientCert(root, 'n', { dnsNames: ['n.example'] });
    assert.equal(fieldsOf(san.der).hasSubjectAltName, true);
    assert.ok(fieldsOf(san.der).extensionTypes.includes(OID.subjectAltName));
  });

  it('refuses framing that is not DER', async () => {
    const c = await createNodeClientCert(await createCa(), 'n');
    assert.throws(
      () => readCertificateDer(Buffer.from([0x30, 0x80, 0x00, 0x00])),
      /unsupported length encoding/,
    );
    assert.throws(() => readCertificateDer(Buffer.from([0x30, 0x81, 0x01, 0x00])), /non-minimal length/);
    assert.throws(() => readCertificateDer(Buffer.from([0x30, 0x05, 0x00])), /runs past/);
    assert.throws(() => readCertificateDer(Buffer.concat([c.der, Buffer.from([0])])), /1 trailing bytes/);
  });

  it('gives a DerError for fields that are not DER, and the identity code refuses them', async () => {
    const c = await createNodeClientCert(await createCa(), 'n', {
      notBefore: new Date('2026-01-02T03:04:05Z'),
    });
    const at = c.der.indexOf(Buffer.from('260102030405Z', 'latin1'));
    assert.ok(at > 0);
    const der = Buffer.from(c.der);
    der[at + 4] = 0x39; // day 92
    const read = readCertificateDer(der);
    assert.ok(read.fields instanceof DerError);
    assert.match(read.fields.message, /bad time "260192030405Z"/);
    assert.equal(read.signatureAlgorithmsMatch, true, 'the spans still read');
    assert.throws(
      () => readCertificateFields(der),
      (err) => isAttestorError(err, 'ERR_INPUT'),
    );
  });

  it('notes an extension whose value is not DER; the identity code refuses only a broken extKeyUsage', async () => {
    const { key } = await createCa();
    const badBoolean = Buffer.from([0x30, 0x03, 0x01, 0x01, 0x01]); // cA as BOOLEAN 0x01: BER, not DER
    const bc = await createCert({
      subject: 'CN=bc',
      key,
      extKeyUsage: [EKU.clientAuth],
      extraExtensions: [new x509.Extension(OID.basicConstraints, true, badBoolean)],
    });
    const f = readCertificateFields(bc.der);
    assert.equal(f.canonical, false);
    assert.equal(f.basicConstraints, undefined);
    assert.match(f.unreadable.get(OID.basicConstraints)?.message ?? '', /cA: not a DER BOOLEAN/);
    assert.deepEqual(f.extKeyUsage, [EKU.clientAuth]);

    const eku = await createCert({
      subject: 'CN=eku',
      key,
      extraExtensions: [new x509.Extension(OID.extKeyUsage, false, Buffer.from([0x30, 0x02, 0x05, 0x00]))],
    });
    assert.ok(fieldsOf(eku.der).unreadable.has(OID.extKeyUsage));
    assert.throws(
      () => readCertificateFields(eku.der),
      (err) => isAttestorError(err, 'ERR_INPUT') && err.message.includes('KeyPurposeId: expected tag 0x6'),
    );
  });

  it('reads what is DER but unusual, and says it is not canonical', async () => {
    const key = await createCa();
    const notCanonical = async (o: Parameters<typeof createCert>[0]): Promise<CertificateFields> => {
      const f = fieldsOf((await createCert(o)).der);
      assert.equal(f.canonical, false, JSON.stringify(o.subject));
      return f;
    };
    const unicode = await notCanonical({ subject: [{ CN: ['système'] }], key: key.key });
    assert.deepEqual(unicode.subject, [[{ type: OID.commonName, value: 'système' }]]);
    const dup = await notCanonical({
      subject: 'CN=d',
      key: key.key,
      extKeyUsage: [EKU.serverAuth],
      extraExtensions: [new x509.ExtendedKeyUsageExtension([EKU.clientAuth])],
    });
    assert.deepEqual(dup.extKeyUsage, [EKU.serverAuth], 'the first one is read');
    const emptyEku = await notCanonical({
      subject: 'CN=e',
      key: key.key,
      extraExtensions: [new x509.Extension(OID.extKeyUsage, false, Buffer.from([0x30, 0x00]))],
    });
    assert.deepEqual(emptyEku.extKeyUsage, []);
  });
});

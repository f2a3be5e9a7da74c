import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, it } from 'node:test';
import {
  parseOpensslTime,
  readCertificate,
  loadCertificateReader,
} from '../../../../src/attestation/chain/certificate.js';
import { OID } from '../../../../src/x509/oids.js';
import { createCa, createNodeClientCert, KU, EKU, type TestCert } from '../../../support/pki.js';
import { expectError } from '../helpers.js';

// These call the synchronous readers directly; the server runs them through withCertificateReader.
before(loadCertificateReader);

let root: TestCert;
before(async () => {
  root = await createCa('CN=root-ca');
});

describe('parseOpensslTime', () => {
  it("parses node:crypto's validFrom/validTo forms", () => {
    assert.equal(parseOpensslTime('Nov 27 12:03:31 2026 GMT')?.toISOString(), '2026-11-27T12:03:31.000Z');
    assert.equal(parseOpensslTime('Jan  7 00:00:00 2050 GMT')?.toISOString(), '2050-01-07T00:00:00.000Z');
    assert.equal(parseOpensslTime('Feb 28 23:59:59.5 2030 GMT')?.toISOString(), '2030-02-28T23:59:59.500Z');
  });

  it('refuses anything else', () => {
    for (const text of [
      '',
      '2026-11-27T12:03:31Z',
      'Foo 27 12:03:31 2026 GMT',
      'Feb 30 00:00:00 2026 GMT',
      'Nov 27 12:03:31 2026',
    ])
      assert.equal(parseOpensslTime(text), undefined, text);
  });

  it('agrees with the certificate', async () => {
    const notBefore = new Date('2026-01-02T03:04:05Z');
    const notAfter = new Date('2051-06-07T08:09:10Z'); // GeneralizedTime after 2049
    const c = await createNodeClientCert(root, 'n', { notBefore, notAfter });
    const facts = readCertificate(c.cert, 'leaf');
    assert.equal(facts.notBefore.toISOString(), notBefore.toISOString());
    assert.equal(facts.notAfter.toISOString(), notAfter.toISOString());
  });
});

describe('readCertificate', () => {
  it('reads the facts Node 20 lacks', async () => {
    const c = await createNodeClientCert(root, 'node-1', {
      serialHex: '0a0b0c',
      keyUsage: KU.digitalSignature | KU.keyEncipherment,
      keyAlg: 'rsa-2048',
    });
    const f = readCertificate(c.cert, 'leaf');
    assert.equal(f.serialHex, '0a0b0c');
    assert.equal(f.sha1, createHash('sha1').update(c.der).digest('hex'));
    assert.equal(f.sha1, c.cert.fingerprint.replaceAll(':', '').toLowerCase());
    assert.deepEqual(f.subjectRdns, [
      [{ type: OID.organization, value: 'system:nodes' }],
      [{ type: OID.commonName, value: 'system:node:node-1' }],
    ]);
    assert.deepEqual(f.basicConstraints, { ca: false, pathLength: undefined });
    assert.equal(f.keyUsage, KU.digitalSignature | KU.keyEncipherment);
    assert.deepEqual(f.extKeyUsage, [EKU.clientAuth]);
    assert.equal(f.hasSubjectAltName, false);
    assert.equal(f.authorityKeyId, readCertificate(root.cert, 'root').subjectKeyId);
    assert.deepEqual([...f.criticalExtensions].sort(), ['2.5.29.15', '2.5.29.19']);
    assert.ok(f.rawIssuer.equals(readCertificate(root.cert, 'root').rawSubject));
    assert.equal(readCertificate(c.cert, 'again'), f, 'cached per X509Certificate');
  });

  it('pads the serial to an even length and strips the DER sign byte, as Go SerialNumberHex', async () => {
    assert.equal(
      readCertificate((await createNodeClientCert(root, 'n', { serialHex: '01' })).cert, 'x').serialHex,
      '01',
    );
    assert.equal(
      readCertificate((await createNodeClientCert(root, 'n', { serialHex: '00ff' })).cert, 'x').serialHex,
      'ff',
    );
  });

  it('refuses a negative serial number', async () => {
    // The generator always encodes a positive serial; patch 02 02 7f aa into 02 02 80 aa.
    const c = await createNodeClientCert(root, 'n', { serialHex: '7faa' });
    const at = c.der.indexOf(Buffer.from([0x02, 0x02, 0x7f, 0xaa]));
    assert.ok(at > 0);
    const der = Buffer.from(c.der);
    der[at + 2] = 0x80;
    expectError(
      () => readCertificate(der, 'certificate 0 (the leaf)'),
      'ERR_PAYLOAD',
      /certificate 0 \(the leaf\) is not a usable X.509 certificate: negative serial number/,
    );
  });

  it('refuses trailing data, garbage and truncation', async () => {
    const c = await createNodeClientCert(root, 'n');
    expectError(
      () => readCertificate(Buffer.concat([c.der, Buffer.from([0])]), 'leaf'),
      'ERR_PAYLOAD',
      /1 trailing bytes/,
    );
    expectError(
      () => readCertificate(Buffer.from('garbage'), 'leaf'),
      'ERR_PAYLOAD',
      /not a usable X.509 certificate/,
    );
    expectError(() => readCertificate(c.der.subarray(0, c.der.length - 1), 'leaf'), 'ERR_PAYLOAD');
  });

  it('uses the given code for trust bundles', () => {
    expectError(
      () => readCertificate(Buffer.from([0x30, 0x00]), 'CA bundle certificate 0', 'ERR_CONFIG'),
      'ERR_CONFIG',
      /CA bundle certificate 0/,
    );
  });
});

/**
 * The fast path (fast-path.ts: the strict certificate reader's fields for a canonical
 * certificate) against the reference, @peculiar/x509 (readWithPeculiar): wherever the fast path
 * answers, it must give exactly the reference's fields; where it cannot be sure it must decline. Generated certificates cover subjects, key
 * usages, extended key usages, basic constraints, key identifiers and unknown extensions.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { x509 } from '../../../../src/x509/peculiar.js';
import {
  nameText,
  readCertificate,
  readWithPeculiar,
  typedByPeculiar,
  loadCertificateReader,
} from '../../../../src/attestation/chain/certificate.js';
import { MAX_FAST_BYTES, fastFields } from '../../../../src/attestation/chain/fast-path.js';
import { readCertificateDer } from '../../../../src/x509/certificate-reader.js';
import { DerError } from '../../../../src/x509/der.js';
import {
  createCa,
  createCert,
  createNodeClientCert,
  EKU,
  generateTestKey,
  KU,
  type TestCert,
  type TestKey,
} from '../../../support/pki.js';

// These call the synchronous readers directly; the server runs them through withCertificateReader.
before(loadCertificateReader);

const fail = (problem: string): never => {
  throw new Error(problem);
};

/** The fast path's answer for `der`: undefined when it declines, also when the framing does not read. */
function readFast(der: Buffer): ReturnType<typeof fastFields> {
  let read;
  try {
    read = readCertificateDer(der);
  } catch {
    return undefined;
  }
  return fastFields(der, read, typedByPeculiar);
}

/** The fast fields of `der`, checked equal to the reference's; undefined when the fast path declined. */
function compare(der: Buffer): ReturnType<typeof fastFields> {
  const fast = readFast(der);
  if (fast === undefined) return undefined;
  const { subject, issuer, ...reference } = readWithPeculiar(der, fail);
  assert.deepStrictEqual(fast, reference);
  const spans = readCertificateDer(der);
  assert.equal(nameText(spans.rawSubject), subject);
  assert.equal(nameText(spans.rawIssuer), issuer);
  return fast;
}

let root: TestCert;
let key: TestKey;
before(async () => {
  root = await createCa('CN=root-ca, O=Example');
  key = await generateTestKey();
});

describe('the fast path of the certificate reader', () => {
  it('reads a kubelet client certificate and a CA exactly as @peculiar/x509 does', async () => {
    const leaf = await createNodeClientCert(root, 'node-1');
    assert.notEqual(compare(leaf.der), undefined, 'a node client certificate takes the fast path');
    assert.notEqual(compare(root.der), undefined);
    const rsa = await createNodeClientCert(root, 'node-2', { keyAlg: 'rsa-2048' });
    assert.notEqual(compare(rsa.der), undefined);
    const ca = await createCa('CN=intermediate', { issuer: root, pathLength: 3 });
    assert.deepEqual(compare(ca.der)?.basicConstraints, { ca: true, pathLength: 3 });
  });

  it('gives readCertificate the same facts and the same subject text', async () => {
    const leaf = await createNodeClientCert(root, 'node-3');
    const facts = readCertificate(leaf.der, 'leaf');
    assert.equal(facts.subject, new x509.X509Certificate(leaf.der).subject);
    assert.equal(facts.issuer, new x509.X509Certificate(leaf.der).issuer);
  });

  it('groups a multi-valued RDN by type, as Name.toJSON() does', async () => {
    const c = await createCert({
      subject: [
        { CN: ['a'], O: ['x'] },
        { OU: ['y', 'z'], CN: ['b'] },
      ],
      key,
    });
    const fast = compare(c.der);
    assert.notEqual(fast, undefined);
  });

  it('declines what it does not read exactly, and the reference decides', async () => {
    const san = await createNodeClientCert(root, 'n', { dnsNames: ['n.example'] });
    assert.equal(readFast(san.der), undefined, 'subjectAltName');
    assert.equal(readCertificate(san.der, 'leaf').hasSubjectAltName, true);

    const unicode = await createCert({ subject: [{ CN: ['système'] }], key });
    assert.equal(readFast(unicode.der), undefined, 'non-ASCII subject');
    assert.deepEqual(readCertificate(unicode.der, 'leaf').subjectRdns, [
      [{ type: '2.5.4.3', value: 'système' }],
    ]);

    const policies = await createCert({
      subject: 'CN=p',
      key,
      extraExtensions: [new x509.CertificatePolicyExtension(['1.2.3.4'])],
    });
    assert.equal(readFast(policies.der), undefined, 'a type @peculiar/x509 parses');

    const dup = await createCert({
      subject: 'CN=d',
      key,
      extraExtensions: [new x509.ExtendedKeyUsageExtension([EKU.clientAuth])],
      extKeyUsage: [EKU.serverAuth],
    });
    assert.equal(readFast(dup.der), undefined, 'duplicate extension');
    assert.throws(() => readCertificate(dup.der, 'leaf'), /duplicate extension 2\.5\.29\.37/);

    const large = await createCert({
      subject: 'CN=large',
      key,
      extraExtensions: [new x509.Extension('1.3.9999.1', false, new Uint8Array(MAX_FAST_BYTES))],
    });
    const largeFields = readCertificateDer(large.der).fields;
    assert.ok(!(largeFields instanceof DerError) && largeFields.canonical, 'canonical, only too large');
    assert.equal(readFast(large.der), undefined, 'larger than MAX_FAST_BYTES');
    assert.deepEqual(readCertificate(large.der, 'leaf').subjectRdns, [[{ type: '2.5.4.3', value: 'large' }]]);
    assert.equal(readFast(Buffer.from([0x30, 0x80, 0, 0])), undefined);
  });

  it('reads a changed byte only where the reference reads it the same', async () => {
    const leaf = await createNodeClientCert(root, 'node-4');
    for (let i = 0; i < leaf.der.length; i += 3) {
      const mutated = Buffer.from(leaf.der);
      mutated[i] = (mutated[i] ?? 0) ^ (i % 2 === 0 ? 0x01 : 0x80);
      let reference: unknown;
      try {
        reference = readWithPeculiar(mutated, fail);
      } catch {
        reference = undefined;
      }
      const fast = readFast(mutated);
      // Where the fast path answers, the reference must answer the same.
      if (fast !== undefined) {
        assert.notEqual(reference, undefined, `byte ${i}: fast path read what the reference refuses`);
        compare(mutated);
      }
    }
  });

  const printable = fc.stringMatching(/^[A-Za-z0-9 .:,+=_-]{0,12}$/);
  const attrType = fc.constantFrom('CN', 'O', 'OU', 'C', 'L', 'ST', 'DC', 'E', 'SN', '1.2.3.4');
  const rdn = fc.dictionary(attrType, fc.array(printable, { minLength: 1, maxLength: 2 }), {
    minKeys: 1,
    maxKeys: 2,
  });
  const oid = fc
    .array(fc.integer({ min: 0, max: 100_000 }), { minLength: 1, maxLength: 4 })
    .map((arcs) => `1.3.${arcs.join('.')}`);

  it('agrees with @peculiar/x509 on generated certificates', async () => {
    let fastCount = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          subject: fc.array(rdn, { minLength: 0, maxLength: 4 }),
          ca: fc.option(fc.boolean(), { nil: undefined }),
          pathLength: fc.option(fc.integer({ min: 0, max: 70_000 }), { nil: undefined }),
          keyUsage: fc.option(fc.integer({ min: 1, max: 511 }), { nil: undefined }),
          extKeyUsage: fc.option(
            fc.array(fc.oneof(fc.constantFrom(...Object.values(EKU)), oid), { maxLength: 3 }),
            {
              nil: undefined,
            },
          ),
          extra: fc.array(
            fc.record({ oid, critical: fc.boolean(), value: fc.uint8Array({ maxLength: 24 }) }),
            { maxLength: 2 },
          ),
          issued: fc.boolean(),
        }),
        async (o) => {
          const cert = await createCert({
            subject: o.subject.length === 0 ? [{ CN: ['x'] }] : o.subject,
            key,
            ...(o.issued ? { issuer: root } : {}),
            ...(o.ca !== undefined ? { ca: o.ca } : {}),
            ...(o.ca !== undefined && o.pathLength !== undefined ? { pathLength: o.pathLength } : {}),
            ...(o.keyUsage !== undefined ? { keyUsage: o.keyUsage } : {}),
            ...(o.extKeyUsage !== undefined ? { extKeyUsage: o.extKeyUsage } : {}),
            extraExtensions: o.extra
              .filter((e, i, all) => all.findIndex((f) => f.oid === e.oid) === i)
              .map((e) => new x509.Extension(e.oid, e.critical, e.value)),
          });
          if (compare(cert.der) !== undefined) fastCount += 1;
        },
      ),
      { numRuns: Number(process.env.FAST_FIELDS_RUNS ?? 60) },
    );
    assert.ok(fastCount > 30, `the fast path answered only ${fastCount}`);
    if (process.env.FAST_FIELDS_RUNS !== undefined) console.log(`fast path answered ${fastCount}`);
  });

  it('reads every keyUsage bit as @peculiar/x509 does', async () => {
    for (const bit of [0, 1, 2, 3, 4, 5, 6, 7, 8]) {
      const c = await createCert({ subject: 'CN=ku', key, keyUsage: 1 << bit });
      assert.equal(compare(c.der)?.keyUsage, 1 << bit);
    }
    const all = await createCert({ subject: 'CN=ku', key, keyUsage: KU.decipherOnly | KU.digitalSignature });
    assert.equal(compare(all.der)?.keyUsage, KU.decipherOnly | KU.digitalSignature);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { OID, certificateFields, formatSubject } from '../../../src/csr/cert-fields.js';
import type { Rdn } from '../../../src/csr/cert-fields.js';
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

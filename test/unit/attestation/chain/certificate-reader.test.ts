/**
 * @peculiar/x509 is loaded only when a certificate or a message needs it. This file must not load
 * it up front (each test file runs in its own process), so that the lazy path is what it tests.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  KeyUsage,
  PECULIAR_TYPED_EXTENSIONS,
  X509LibNotLoaded,
  readCertificate,
  withCertificateReader,
} from '../../../../src/attestation/chain/certificate.js';
import { x509 } from '../../../../src/x509/peculiar.js';
import { createCa, createNodeClientCert, type TestCert } from '../../../support/pki.js';

let root: TestCert;
let plain: TestCert;
let withSan: TestCert;
before(async () => {
  root = await createCa('CN=root-ca');
  plain = await createNodeClientCert(root, 'node-1');
  withSan = await createNodeClientCert(root, 'node-2', { dnsNames: ['node-2.example'] });
});

describe('the certificate reader without @peculiar/x509', () => {
  it('reads a certificate in the fast path without it, and asks for it for any other', async () => {
    assert.equal(readCertificate(plain.der, 'leaf').subjectRdns.length, 2);
    assert.throws(() => readCertificate(withSan.der, 'leaf'), X509LibNotLoaded);
    // The subject text is for messages only; it needs the library too.
    assert.throws(() => readCertificate(plain.der, 'leaf').subject, X509LibNotLoaded);

    let runs = 0;
    const facts = await withCertificateReader(() => {
      runs += 1;
      return readCertificate(withSan.der, 'leaf');
    });
    assert.equal(runs, 2);
    assert.equal(facts.hasSubjectAltName, true);
    // Loaded now: one run, and the message text is there.
    runs = 0;
    const text = await withCertificateReader(() => {
      runs += 1;
      return readCertificate(plain.der, 'leaf').subject;
    });
    assert.equal(runs, 1);
    assert.match(text, /CN=system:node:node-1/);
  });

  it('passes on any other error at once', async () => {
    let runs = 0;
    await assert.rejects(
      withCertificateReader(() => {
        runs += 1;
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(runs, 1);
  });

  it("writes out @peculiar/x509's own keyUsage bits and extension registry", () => {
    for (const [name, bit] of Object.entries(KeyUsage))
      assert.equal(x509.KeyUsageFlags[name as keyof typeof x509.KeyUsageFlags], bit, name);
    const registry = (x509.ExtensionFactory as unknown as { items: Map<string, unknown> }).items;
    assert.ok(registry instanceof Map);
    assert.deepEqual([...PECULIAR_TYPED_EXTENSIONS].sort(), [...registry.keys()].sort());
  });
});

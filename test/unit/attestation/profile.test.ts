import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { checkNodeClientProfile } from '../../../src/attestation/profile.js';
import {
  createCa,
  createCert,
  createNodeClientCert,
  EKU,
  KU,
  type CertOptions,
  type TestCert,
} from '../../support/pki.js';
import { expectError } from './helpers.js';
import { loadCertificateReader } from '../../../src/attestation/chain/certificate.js';

// These call the synchronous readers directly; the server runs them through withCertificateReader.
before(loadCertificateReader);

let root: TestCert;
before(async () => {
  root = await createCa('CN=root-ca');
});

const leafWith = (o: Partial<CertOptions>, name = 'node-1'): Promise<TestCert> =>
  createNodeClientCert(root, name, o);
const subject = (...rdns: Record<string, string[]>[]): Partial<CertOptions> => ({ subject: rdns });

const refuses = async (o: Partial<CertOptions>, check: string, message: RegExp): Promise<void> => {
  const c = await leafWith(o);
  const err = expectError(() => checkNodeClientProfile(c.cert), 'ERR_PROFILE', message, { check });
  assert.match(err.message, /^leaf certificate is not a Kubernetes node client certificate: /);
};

describe('checkNodeClientProfile', () => {
  it('accepts what the kubelet-client signer issues and returns the node name', async () => {
    assert.deepEqual(checkNodeClientProfile((await leafWith({})).cert), { nodeName: 'node-1' });
    assert.deepEqual(checkNodeClientProfile((await leafWith({}, 'ip-10-0-0-1.ec2.internal')).cert), {
      nodeName: 'ip-10-0-0-1.ec2.internal',
    });
    assert.deepEqual(checkNodeClientProfile((await leafWith({}, 'a'.repeat(253))).cert), {
      nodeName: 'a'.repeat(253),
    });
  });

  it('accepts an RSA key with digitalSignature and keyEncipherment', async () => {
    const c = await leafWith({ keyAlg: 'rsa-2048', keyUsage: KU.digitalSignature | KU.keyEncipherment });
    assert.equal(checkNodeClientProfile(c.cert).nodeName, 'node-1');
  });

  it('accepts O and CN in either order', async () => {
    const c = await leafWith(subject({ CN: ['system:node:node-1'] }, { O: ['system:nodes'] }));
    assert.equal(checkNodeClientProfile(c.cert).nodeName, 'node-1');
  });

  describe('subject', () => {
    it('refuses O other than system:nodes', () =>
      refuses(
        subject({ O: ['system:masters'] }, { CN: ['system:node:node-1'] }),
        'subject',
        /subject O is "system:masters"; it must be system:nodes/,
      ));
    it('refuses two Os', () =>
      refuses(
        subject({ O: ['system:nodes'] }, { O: ['system:masters'] }, { CN: ['system:node:node-1'] }),
        'subject',
        /2 O attributes \("system:nodes", "system:masters"\)/,
      ));
    it('refuses a missing O', () =>
      refuses(subject({ CN: ['system:node:node-1'] }), 'subject', /subject has no O/));
    it('refuses a multi-valued RDN', () =>
      refuses(subject({ O: ['system:nodes'], CN: ['system:node:node-1'] }), 'subject', /multi-valued RDN/));
    it('refuses a missing CN', () =>
      refuses(subject({ O: ['system:nodes'] }), 'subject', /subject has no CN/));
    it('refuses two CNs', () =>
      refuses(
        subject({ O: ['system:nodes'] }, { CN: ['system:node:a'] }, { CN: ['system:node:b'] }),
        'subject',
        /2 CN attributes/,
      ));
    it('refuses a CN without the system:node: prefix', () =>
      refuses(
        subject({ O: ['system:nodes'] }, { CN: ['node-1'] }),
        'subject',
        /subject CN "node-1" does not start with system:node:/,
      ));
    it('refuses an admin-style CN', () =>
      refuses(
        subject({ O: ['system:nodes'] }, { CN: ['kubernetes-admin'] }),
        'subject',
        /does not start with system:node:/,
      ));
    it('refuses other attributes', () =>
      refuses(
        subject({ O: ['system:nodes'] }, { OU: ['x'] }, { CN: ['system:node:node-1'] }),
        'subject',
        /attributes other than O and CN: 2.5.4.11="x"/,
      ));

    const badNames: [string, RegExp][] = [
      ['a/b', /DNS-1123/],
      ['..', /DNS-1123/],
      ['../../x', /DNS-1123/],
      ['Node-1', /DNS-1123/],
      ['', /must not be empty/],
      ['a'.repeat(254), /at most 253 characters/],
      ['node_1', /DNS-1123/],
      ['-node', /DNS-1123/],
      ['node:1', /DNS-1123/],
    ];
    for (const [name, message] of badNames)
      it(`refuses the node name ${JSON.stringify(name.length > 20 ? `${name.slice(0, 8)}…(${name.length} chars)` : name)}`, () =>
        refuses(subject({ O: ['system:nodes'] }, { CN: [`system:node:${name}`] }), 'subject', message));
  });

  it('refuses a CA certificate', () => refuses({ ca: true }, 'ca', /it is a CA certificate/));

  describe('extended key usage', () => {
    it('refuses a missing EKU', async () => {
      const c = await createCert({
        subject: [{ O: ['system:nodes'] }, { CN: ['system:node:n'] }],
        issuer: root,
        keyUsage: KU.digitalSignature,
      });
      expectError(() => checkNodeClientProfile(c.cert), 'ERR_PROFILE', /no extended key usage extension/, {
        check: 'eku',
      });
    });
    it('refuses serverAuth only', () =>
      refuses(
        { extKeyUsage: [EKU.serverAuth] },
        'eku',
        /is \[serverAuth\]; it must be exactly \[clientAuth\]/,
      ));
    it('refuses clientAuth plus serverAuth', () =>
      refuses({ extKeyUsage: [EKU.clientAuth, EKU.serverAuth] }, 'eku', /is \[clientAuth, serverAuth\]/));
    it('refuses anyExtendedKeyUsage', () =>
      refuses({ extKeyUsage: ['2.5.29.37.0'] }, 'eku', /anyExtendedKeyUsage/));
  });

  describe('key usage', () => {
    it('refuses a missing keyUsage', async () => {
      const c = await createCert({
        subject: [{ O: ['system:nodes'] }, { CN: ['system:node:n'] }],
        issuer: root,
        extKeyUsage: [EKU.clientAuth],
      });
      expectError(() => checkNodeClientProfile(c.cert), 'ERR_PROFILE', /no key usage extension/, {
        check: 'key-usage',
      });
    });
    it('refuses keyUsage without digitalSignature', () =>
      refuses(
        { keyUsage: KU.keyEncipherment, keyAlg: 'rsa-2048' },
        'key-usage',
        /must include digitalSignature/,
      ));
    it('accepts keyEncipherment with an ECDSA key, as the nodeclient profile does', async () => {
      const c = await leafWith({ keyAlg: 'ecdsa-p256', keyUsage: KU.digitalSignature | KU.keyEncipherment });
      assert.equal(checkNodeClientProfile(c.cert).nodeName, 'node-1');
    });
    it('accepts digitalSignature alone with an RSA key', async () => {
      const c = await leafWith({ keyAlg: 'rsa-2048', keyUsage: KU.digitalSignature });
      assert.equal(checkNodeClientProfile(c.cert).nodeName, 'node-1');
    });
    it('still refuses keyEncipherment without digitalSignature on an ECDSA key', () =>
      refuses({ keyUsage: KU.keyEncipherment }, 'key-usage', /must include digitalSignature/));
    it('refuses dataEncipherment on an ECDSA key', () =>
      refuses(
        { keyUsage: KU.digitalSignature | KU.keyEncipherment | KU.dataEncipherment },
        'key-usage',
        /\[digitalSignature, keyEncipherment, dataEncipherment\]; only digitalSignature and keyEncipherment are allowed/,
      ));
    it('refuses keyCertSign with an RSA key', () =>
      refuses(
        { keyAlg: 'rsa-2048', keyUsage: KU.digitalSignature | KU.keyEncipherment | KU.keyCertSign },
        'key-usage',
        /only digitalSignature and keyEncipherment are allowed/,
      ));
    it('refuses keyAgreement on an ECDSA key', () =>
      refuses(
        { keyUsage: KU.digitalSignature | KU.keyAgreement },
        'key-usage',
        /\[digitalSignature, keyAgreement\]/,
      ));
    it('refuses keyCertSign', () =>
      refuses(
        { keyUsage: KU.digitalSignature | KU.keyCertSign },
        'key-usage',
        /\[digitalSignature, keyCertSign\]/,
      ));
    it('refuses nonRepudiation on an RSA key', () =>
      refuses(
        { keyAlg: 'rsa-2048', keyUsage: KU.digitalSignature | KU.nonRepudiation },
        'key-usage',
        /only digitalSignature and keyEncipherment are allowed/,
      ));
  });

  describe('subjectAltName', () => {
    it('refuses DNS SANs', () => refuses({ dnsNames: ['node-1'] }, 'san', /has a subjectAltName extension/));
    it('refuses IP SANs', () => refuses({ ipAddresses: ['10.0.0.1'] }, 'san', /subjectAltName/));
    it('refuses URI SANs', () => refuses({ uris: ['spiffe://example.org/x'] }, 'san', /subjectAltName/));
  });

  it('refuses an Ed25519 key: key type not allowed', () =>
    refuses(
      { keyAlg: 'ed25519' },
      'key-type',
      /key type not allowed: ed25519; x509pop proof of possession needs RSA or ECDSA/,
    ));
});

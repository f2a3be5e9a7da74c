import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readCertificate } from '../../../src/attestation/chain/certificate.js';
import { keyDetails } from '../../../src/attestation/key-details.js';
import { createCa, createNodeClientCert, type TestKeyAlg } from '../../support/pki.js';

describe('keyDetails', () => {
  it("gives OpenSSL's details for every key type, named curves read from the certificate", async () => {
    const ca = await createCa('CN=ca');
    for (const keyAlg of ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'ed25519'] as TestKeyAlg[]) {
      const leaf = await createNodeClientCert(ca, 'node-1', { keyAlg });
      const { publicKey } = readCertificate(leaf.der, 'leaf');
      const noted = keyDetails(publicKey);
      // A fresh KeyObject for the same key: what OpenSSL says, without the note.
      const fresh = leaf.cert.publicKey.asymmetricKeyDetails;
      assert.deepEqual(noted, fresh, keyAlg);
    }
  });

  it('does not ask OpenSSL for the named curve of a certificate it read', async () => {
    const ca = await createCa('CN=ca');
    const { publicKey } = readCertificate((await createNodeClientCert(ca, 'node-1')).der, 'leaf');
    Object.defineProperty(publicKey, 'asymmetricKeyDetails', {
      get: () => assert.fail('asked OpenSSL'),
    });
    assert.deepEqual(keyDetails(publicKey), { namedCurve: 'prime256v1' });
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, sign, verify } from 'node:crypto';
import {
  DEFAULT_KEY_TYPE,
  KEY_TYPES,
  exportPrivateKeyPem,
  generateKey,
  isRsaKeyType,
  keyMatchesCertificate,
  keyTypeOf,
  parseKeyType,
} from '../../../src/csr/keys.js';
import { isAttestorError } from '../../../src/errors.js';
import { createCa, createNodeClientCert, generateTestKey } from '../../support/pki.js';

describe('key types', () => {
  it('lists the six supported types with P-256 the default', () => {
    assert.deepEqual(KEY_TYPES, ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'ed25519']);
    assert.equal(DEFAULT_KEY_TYPE, 'ecdsa-p256');
  });

  it('parses every valid value', () => {
    for (const t of KEY_TYPES) assert.equal(parseKeyType(t, '-key-type'), t);
  });

  it('rejects anything else with ERR_USAGE naming the input and listing the valid values', () => {
    for (const bad of ['', 'rsa', 'RSA-2048', 'ecdsa-p521', 'rsa-1024', 'ed448']) {
      assert.throws(
        () => parseKeyType(bad, '-key-type'),
        (err: unknown) =>
          isAttestorError(err, 'ERR_USAGE') &&
          err.message.includes('-key-type') &&
          err.message.includes(JSON.stringify(bad)) &&
          KEY_TYPES.every((t) => err.message.includes(t)),
      );
    }
  });

  it('marks only RSA types as RSA', () => {
    assert.deepEqual(
      KEY_TYPES.filter((t) => isRsaKeyType(t)),
      ['rsa-2048', 'rsa-3072', 'rsa-4096'],
    );
  });
});

describe('generateKey', () => {
  for (const keyType of KEY_TYPES) {
    it(`${keyType}: a pair of that type, PKCS#8 PEM export, signs and verifies`, async () => {
      const key = await generateKey(keyType);
      assert.equal(key.keyType, keyType);
      assert.equal(keyTypeOf(key.privateKey), keyType);
      assert.equal(keyTypeOf(key.publicKey), keyType);
      const pem = exportPrivateKeyPem(key.privateKey);
      assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
      const reloaded = createPrivateKey(pem);
      const data = Buffer.from('nonce');
      const alg = keyType === 'ed25519' ? null : 'sha256';
      assert.ok(verify(alg, data, key.publicKey, sign(alg, data, reloaded)));
    });
  }
});

describe('keyTypeOf', () => {
  it('is undefined for key types the project does not generate', async () => {
    assert.equal(keyTypeOf((await generateTestKey('rsa-1024')).privateKey), undefined);
  });
});

describe('keyMatchesCertificate', () => {
  it('is true for the certified key and false for any other', async () => {
    const ca = await createCa();
    const leaf = await createNodeClientCert(ca, 'n1');
    const other = await generateTestKey('ecdsa-p256');
    assert.equal(keyMatchesCertificate(leaf.key.privateKey, leaf.cert), true);
    assert.equal(keyMatchesCertificate(other.privateKey, leaf.cert), false);
    assert.equal(keyMatchesCertificate(ca.key.privateKey, leaf.cert), false);
    assert.equal(keyMatchesCertificate(leaf.key.privateKey, new X509Certificate(ca.pem)), false);
  });
});

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { keyProblem, signatureAlgorithmName } from '../../../../src/attestation/chain/key-policy.js';

describe('keyProblem', () => {
  it('allows RSA 2048+, P-256/P-384/P-521 and Ed25519', () => {
    assert.equal(keyProblem(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey), undefined);
    for (const namedCurve of ['prime256v1', 'secp384r1', 'secp521r1'])
      assert.equal(keyProblem(generateKeyPairSync('ec', { namedCurve }).publicKey), undefined, namedCurve);
    assert.equal(keyProblem(generateKeyPairSync('ed25519').publicKey), undefined);
  });

  it('refuses small RSA, other curves and other key types', () => {
    assert.match(
      keyProblem(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey) ?? '',
      /1024-bit RSA key; allowed are 2048 to 8192 bits/,
    );
    assert.match(
      keyProblem(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey) ?? '',
      /ECDSA key on secp256k1; allowed are P-256, P-384 and P-521/,
    );
    assert.match(keyProblem(generateKeyPairSync('x25519').publicKey) ?? '', /key of type x25519/);
    assert.match(keyProblem(generateKeyPairSync('ed448').publicKey) ?? '', /key of type ed448/);
    const anyHash = generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey;
    const sha256Only = generateKeyPairSync('rsa-pss', {
      modulusLength: 2048,
      hashAlgorithm: 'sha256',
      mgf1HashAlgorithm: 'sha256',
    }).publicKey;
    for (const key of [anyHash, sha256Only])
      assert.match(
        keyProblem(key) ?? '',
        /^has an RSASSA-PSS key \(subjectPublicKeyInfo id-RSASSA-PSS\); allowed are RSA \(rsaEncryption\)/,
      );
  });
});

describe('signatureAlgorithmName', () => {
  it('names allowed and refused algorithms, and falls back to the OID', () => {
    assert.equal(signatureAlgorithmName('1.2.840.113549.1.1.11'), 'sha256WithRSAEncryption');
    assert.equal(signatureAlgorithmName('1.2.840.113549.1.1.5'), 'sha1WithRSAEncryption');
    assert.equal(signatureAlgorithmName('1.2.3.4'), '1.2.3.4');
  });
});

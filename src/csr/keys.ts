/**
 * Private keys for node identities: the supported types, generation through WebCrypto (which
 * @peculiar/x509 needs to sign the CSR) and the KeyObject view node:crypto needs for everything
 * else (export, proof of possession, comparison with a certificate).
 */
import { KeyObject, createPublicKey, webcrypto } from 'node:crypto';
import type { X509Certificate } from 'node:crypto';
import { AttestorError } from '../errors.js';

export const KEY_TYPES = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'ed25519'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
/** What kubelets use: small, fast, accepted everywhere. */
export const DEFAULT_KEY_TYPE: KeyType = 'ecdsa-p256';

export function isKeyType(value: string): value is KeyType {
  return (KEY_TYPES as readonly string[]).includes(value);
}

/** Returns the key type, or throws ERR_USAGE naming `input` (e.g. "-key-type") and the valid values. */
export function parseKeyType(value: string, input: string): KeyType {
  if (isKeyType(value)) return value;
  throw new AttestorError(
    'ERR_USAGE',
    `${input} ${JSON.stringify(value)} is not a supported key type; use one of: ${KEY_TYPES.join(', ')}`,
    { details: { input } },
  );
}

/** The nodeclient profile adds "key encipherment" for RSA keys only. */
export function isRsaKeyType(keyType: KeyType): boolean {
  return keyType.startsWith('rsa-');
}

type GenParams = webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams | webcrypto.Algorithm;

const RSA_EXPONENT = new Uint8Array([1, 0, 1]);
const rsa = (modulusLength: number): webcrypto.RsaHashedKeyGenParams => ({
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength,
  publicExponent: RSA_EXPONENT,
  hash: 'SHA-256',
});

const GEN_PARAMS: Record<KeyType, GenParams> = {
  'ecdsa-p256': { name: 'ECDSA', namedCurve: 'P-256' },
  'ecdsa-p384': { name: 'ECDSA', namedCurve: 'P-384' },
  'rsa-2048': rsa(2048),
  'rsa-3072': rsa(3072),
  'rsa-4096': rsa(4096),
  ed25519: { name: 'Ed25519' },
};

/** The signature algorithm a CSR made with this key type uses (hash matched to the curve size). */
export function csrSigningAlgorithm(keyType: KeyType): webcrypto.Algorithm | webcrypto.EcdsaParams {
  switch (keyType) {
    case 'ecdsa-p256':
      return { name: 'ECDSA', hash: 'SHA-256' };
    case 'ecdsa-p384':
      return { name: 'ECDSA', hash: 'SHA-384' };
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    case 'ed25519':
      return { name: 'Ed25519' };
  }
}

export interface GeneratedKey {
  readonly keyType: KeyType;
  /** For @peculiar/x509 (CSR signing). */
  readonly cryptoKeyPair: webcrypto.CryptoKeyPair;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export async function generateKey(keyType: KeyType): Promise<GeneratedKey> {
  // Extractable: the private key must be exported to PKCS#8 for the identity document.
  const pair = (await webcrypto.subtle.generateKey(GEN_PARAMS[keyType], true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  return {
    keyType,
    cryptoKeyPair: pair,
    privateKey: KeyObject.from(pair.privateKey),
    publicKey: KeyObject.from(pair.publicKey),
  };
}

/** PKCS#8 `PRIVATE KEY` PEM: one format for every key type, and Go's tls.X509KeyPair accepts it. */
export function exportPrivateKeyPem(privateKey: KeyObject): string {
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** The key type of an existing key, or undefined for one this project does not generate. */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  const type = key.asymmetricKeyType;
  if (type === 'ed25519') return 'ed25519';
  if (type === 'ec' && details.namedCurve === 'prime256v1') return 'ecdsa-p256';
  if (type === 'ec' && details.namedCurve === 'secp384r1') return 'ecdsa-p384';
  if (type === 'rsa') {
    const candidate = `rsa-${String(details.modulusLength)}`;
    return isKeyType(candidate) ? candidate : undefined;
  }
  return undefined;
}

/** SubjectPublicKeyInfo DER of a public key, or of the public half of a private key. */
export function spkiDer(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

/** Whether `cert` certifies the public half of `privateKey` (compared as SPKI DER, exact). */
export function keyMatchesCertificate(privateKey: KeyObject, cert: X509Certificate): boolean {
  return spkiDer(privateKey).equals(spkiDer(cert.publicKey));
}

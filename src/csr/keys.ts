/**
 * Private keys for node identities: the supported types, generation, and the node:crypto
 * operations on them (export, proof of possession, comparison with a certificate).
 */
import { createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
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

const generateKeyPairAsync = promisify(generateKeyPair);

/** Generates a key pair of `keyType` off the main thread (RSA generation takes a while). */
function generate(keyType: KeyType): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  switch (keyType) {
    case 'ecdsa-p256':
      return generateKeyPairAsync('ec', { namedCurve: 'P-256' });
    case 'ecdsa-p384':
      return generateKeyPairAsync('ec', { namedCurve: 'P-384' });
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return generateKeyPairAsync('rsa', {
        modulusLength: Number(keyType.slice(4)),
        publicExponent: 0x10001,
      });
    case 'ed25519':
      return generateKeyPairAsync('ed25519');
  }
}

export interface GeneratedKey {
  readonly keyType: KeyType;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export async function generateKey(keyType: KeyType): Promise<GeneratedKey> {
  const { privateKey, publicKey } = await generate(keyType);
  return { keyType, privateKey, publicKey };
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

/**
 * Which x509pop proof a key can make. x509pop defines only RSA (PSS) and ECDSA proofs, so
 * Ed25519 and every other key type has no wire format and is refused by both sides.
 */
import type { KeyObject } from 'node:crypto';
import { keyDetails } from './key-details.js';

export type PopKind = 'rsa' | 'ecdsa';

/** The proof kind for `key`, or undefined when x509pop has none for its type. */
export function popKind(key: KeyObject): PopKind | undefined {
  if (key.asymmetricKeyType === 'rsa') return 'rsa';
  if (key.asymmetricKeyType === 'ec') return 'ecdsa';
  return undefined;
}

/** A human name for a key's type and size, for error messages. */
export function describeKey(key: KeyObject): string {
  const details = keyDetails(key);
  const type = key.asymmetricKeyType;
  if (type === 'rsa' || type === 'rsa-pss')
    return `${type.toUpperCase()} ${details.modulusLength ?? '?'}-bit`;
  if (type === 'ec') return `ECDSA ${curveName(details.namedCurve)}`;
  return type ?? 'unknown';
}

const CURVES: Readonly<Record<string, { readonly name: string; readonly scalarBytes: number }>> = {
  prime256v1: { name: 'P-256', scalarBytes: 32 },
  secp384r1: { name: 'P-384', scalarBytes: 48 },
  secp521r1: { name: 'P-521', scalarBytes: 66 },
};

/** The NIST name of an OpenSSL curve name when it is one we allow, else the OpenSSL name. */
export function curveName(opensslName: string | undefined): string {
  if (opensslName === undefined) return 'unknown curve';
  return CURVES[opensslName]?.name ?? opensslName;
}

/** Byte length of r and s for an allowed curve (P-256, P-384, P-521), else undefined. */
export function ecdsaScalarBytes(key: KeyObject): number | undefined {
  const curve = keyDetails(key).namedCurve;
  return curve === undefined ? undefined : CURVES[curve]?.scalarBytes;
}

/**
 * A key's details (curve, modulus length, exponent) as node:crypto's asymmetricKeyDetails gives
 * them. Asking OpenSSL for them the first time costs ~80 µs per key, a tenth of an attestation's
 * CPU, while an EC key's named curve is right there in the certificate's subjectPublicKeyInfo:
 * certificate.ts notes it for the certificate's key, and everything else asks OpenSSL as before.
 */
import type { AsymmetricKeyDetails, KeyObject } from 'node:crypto';

const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
/** Named-curve OIDs (RFC 5480) and OpenSSL's names for them: the curves the key policy allows. */
const NAMED_CURVES: ReadonlyMap<string, string> = new Map([
  ['1.2.840.10045.3.1.7', 'prime256v1'],
  ['1.3.132.0.34', 'secp384r1'],
  ['1.3.132.0.35', 'secp521r1'],
]);

const noted = new WeakMap<KeyObject, AsymmetricKeyDetails>();

export function keyDetails(key: KeyObject): AsymmetricKeyDetails {
  return noted.get(key) ?? key.asymmetricKeyDetails ?? {};
}

/**
 * Notes the named curve of `key`, which OpenSSL decoded from the subjectPublicKeyInfo whose
 * algorithm and parameter OIDs are given; only for an EC key on a curve in NAMED_CURVES.
 */
export function noteKeyAlgorithm(
  key: KeyObject,
  algorithm: string | undefined,
  parameter: string | undefined,
): void {
  const namedCurve = parameter === undefined ? undefined : NAMED_CURVES.get(parameter);
  if (algorithm === EC_PUBLIC_KEY && namedCurve !== undefined && key.asymmetricKeyType === 'ec')
    noted.set(key, { namedCurve });
}

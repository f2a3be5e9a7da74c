/**
 * Which keys a certificate in a verified path may carry: RSA 2048–8192 bits with a sane public
 * exponent, ECDSA on P-256/P-384/P-521, or Ed25519 (CAs only in practice: the node-client profile
 * refuses Ed25519 leaves because x509pop cannot prove possession of them).
 */
import type { KeyObject } from 'node:crypto';
import { keyDetails } from '../key-details.js';
import { curveName } from '../pop-key.js';
import { pssParametersProblem } from './pss-params.js';

export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 8192;
const ALLOWED_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);

/** Why `key` is not allowed, or undefined when it is. */
export function keyProblem(key: KeyObject): string | undefined {
  const details = keyDetails(key);
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS)
      return `has a ${bits}-bit RSA key; allowed are ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits`;
    const e = details.publicExponent ?? 0n;
    // An even or tiny exponent makes "signatures" forgeable or the key unusable.
    if (e < 3n || e % 2n === 0n) return `has an RSA key with an invalid public exponent ${e.toString()}`;
    return undefined;
  }
  if (type === 'ec') {
    if (details.namedCurve === undefined || !ALLOWED_CURVES.has(details.namedCurve))
      return `has an ECDSA key on ${curveName(details.namedCurve)}; allowed are P-256, P-384 and P-521`;
    return undefined;
  }
  if (type === 'ed25519') return undefined;
  // Whatever its parameters say: Go's crypto/x509 cannot use an id-RSASSA-PSS key, so the API
  // server would not accept a certificate that needs one either.
  if (type === 'rsa-pss')
    return 'has an RSASSA-PSS key (subjectPublicKeyInfo id-RSASSA-PSS); allowed are RSA (rsaEncryption), ECDSA and Ed25519 keys';
  return `has a key of type ${type ?? 'unknown'}; allowed are RSA, ECDSA and Ed25519`;
}

export const RSASSA_PSS = '1.2.840.113549.1.1.10';

/**
 * Signature algorithms a path may use; SHA-1 and MD5 are refused as Go refuses them, and
 * RSASSA-PSS only with the parameters pss-params.ts allows (absent ones mean SHA-1).
 */
export const SIGNATURE_ALGORITHMS: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.1.1.11', 'sha256WithRSAEncryption'],
  ['1.2.840.113549.1.1.12', 'sha384WithRSAEncryption'],
  ['1.2.840.113549.1.1.13', 'sha512WithRSAEncryption'],
  [RSASSA_PSS, 'RSASSA-PSS'],
  ['1.2.840.10045.4.3.2', 'ecdsa-with-SHA256'],
  ['1.2.840.10045.4.3.3', 'ecdsa-with-SHA384'],
  ['1.2.840.10045.4.3.4', 'ecdsa-with-SHA512'],
  ['1.3.101.112', 'Ed25519'],
]);

const REFUSED_NAMES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10040.4.3': 'dsa-with-SHA1',
};

export function signatureAlgorithmName(oid: string): string {
  return SIGNATURE_ALGORITHMS.get(oid) ?? REFUSED_NAMES[oid] ?? oid;
}

/**
 * Why a certificate signed with `oid` and `params` (the DER of the parameters element, if any)
 * is refused, or undefined when it is allowed. The text follows "is signed with".
 */
export function signatureAlgorithmProblem(oid: string, params: Uint8Array | undefined): string | undefined {
  if (!SIGNATURE_ALGORITHMS.has(oid))
    return `${signatureAlgorithmName(oid)}, which is insecure or not supported`;
  if (oid === RSASSA_PSS) return pssParametersProblem(params);
  return undefined;
}

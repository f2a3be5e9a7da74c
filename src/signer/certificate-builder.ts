/**
 * Writes and signs an X.509 v3 certificate with node:crypto and the DER writer: no ASN.1 library
 * to load in the signer (@peculiar/x509 costs hundreds of milliseconds and re-encodes what it is
 * given through its own schemas). The issuer Name and
 * the subject's SubjectPublicKeyInfo are copied byte for byte (from the CA certificate and the
 * request), so the chain links by exact name and the key is exactly the one requested.
 */
import { X509Certificate, createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { readCertificateDer } from '../x509/certificate-reader.js';
import { TAG, readTlv, tlvChildren } from '../x509/der.js';
import {
  bitString,
  derNull,
  directoryString,
  oid,
  sequence,
  set,
  smallInteger,
  tlv,
} from '../x509/der-write.js';
import { OID } from '../x509/oids.js';

export interface ExtensionSpec {
  readonly oid: string;
  readonly critical: boolean;
  /** The DER of the extension's value (what goes inside extnValue's OCTET STRING). */
  readonly value: Buffer;
}

export interface CertificateSpec {
  readonly issuerDer: Buffer;
  readonly issuerKey: KeyObject;
  readonly subjectSpki: Buffer;
  readonly subjectCn: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: readonly ExtensionSpec[];
}

/** Whether signatureAlgorithm() can sign with `key`: ECDSA or RSA (docs/pod-certificates.md). */
export function canSignWith(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' || key.asymmetricKeyType === 'rsa';
}

/** The signature algorithm for a CA key: ECDSA with the curve's hash, else RSA PKCS#1 v1.5 SHA-256. */
function signatureAlgorithm(key: KeyObject): { id: Buffer; hash: string } {
  if (key.asymmetricKeyType === 'ec') {
    const p384 = key.asymmetricKeyDetails?.namedCurve === 'secp384r1';
    return {
      id: sequence(oid(p384 ? '1.2.840.10045.4.3.3' : '1.2.840.10045.4.3.2')),
      hash: p384 ? 'sha384' : 'sha256',
    };
  }
  return { id: sequence(oid('1.2.840.113549.1.1.11'), derNull()), hash: 'sha256' };
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function derTime(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const rest = `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  return y < 2050
    ? tlv(TAG.utcTime, Buffer.from(`${pad(y % 100)}${rest}`, 'latin1'))
    : tlv(TAG.generalizedTime, Buffer.from(`${pad(y, 4)}${rest}`, 'latin1'));
}

/** A positive 128-bit serial whose first octet is non-zero (minimal DER). */
function serialNumber(): Buffer {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x01;
  return tlv(TAG.integer, b);
}

/** The CA's subject key identifier, else SHA-1 of its public key bits (RFC 5280 4.2.1.2 method 1). */
function authorityKeyId(issuerDer: Buffer): Buffer {
  const fields = readCertificateDer(issuerDer).fields;
  if (!(fields instanceof Error) && fields.subjectKeyId !== undefined)
    return Buffer.from(fields.subjectKeyId, 'hex');
  const spki = new X509Certificate(issuerDer).publicKey.export({ type: 'spki', format: 'der' });
  const [, bits] = tlvChildren(
    spki,
    readTlv(spki, 0, spki.length, 'SubjectPublicKeyInfo'),
    'SubjectPublicKeyInfo',
  );
  if (bits === undefined) throw new Error('SubjectPublicKeyInfo without a key');
  // The BIT STRING's content after its unused-bits octet is the key.
  return createHash('sha1')
    .update(spki.subarray(bits.start + 1, bits.end))
    .digest();
}

export function akiExtension(issuerDer: Buffer): ExtensionSpec {
  return {
    oid: OID.authorityKeyIdentifier,
    critical: false,
    value: sequence(tlv(0x80, authorityKeyId(issuerDer))),
  };
}

function extension(e: ExtensionSpec): Buffer {
  return sequence(
    oid(e.oid),
    ...(e.critical ? [tlv(TAG.boolean, Buffer.from([0xff]))] : []),
    tlv(TAG.octetString, e.value),
  );
}

/** The DER of the signed certificate. */
export function buildCertificate(s: CertificateSpec): Buffer {
  const issuer = readCertificateDer(s.issuerDer).rawSubject;
  const alg = signatureAlgorithm(s.issuerKey);
  const tbs = sequence(
    tlv(0xa0, smallInteger(2)),
    serialNumber(),
    alg.id,
    issuer,
    sequence(derTime(s.notBefore), derTime(s.notAfter)),
    sequence(set(sequence(oid(OID.commonName), directoryString(s.subjectCn)))),
    s.subjectSpki,
    tlv(0xa3, sequence(...s.extensions.map(extension))),
  );
  const signature = sign(alg.hash, tbs, s.issuerKey);
  return sequence(tbs, alg.id, bitString(signature));
}

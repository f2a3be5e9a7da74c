/**
 * Certificate framing for the few spans of a certificate that neither node:crypto nor
 * @peculiar/x509 hands out verbatim: the raw issuer and subject names (matched byte for byte, as
 * Go does), the serial number's sign, the signature algorithm OIDs and the outer one's parameters
 * (RSASSA-PSS's hash and MGF live there), the end of the encoding (Node
 * accepts trailing bytes after a certificate; Go does not, nor do we), and the key's algorithm
 * (node:crypto's asymmetricKeyDetails costs ~80 µs on a new key). Read with the strict DER reader;
 * any problem is a DerError the caller reports under its own code.
 */
import { DerError, TAG, decodeOidContent, expectTag, readTlv } from '../../x509/der.js';

export interface CertificateSpans {
  /** DER of the TBS issuer Name. */
  readonly rawIssuer: Buffer;
  /** DER of the TBS subject Name. */
  readonly rawSubject: Buffer;
  /** Content bytes of the serial number INTEGER (two's complement, big-endian). */
  readonly serial: Buffer;
  /** OID of the outer signatureAlgorithm. */
  readonly signatureAlgorithm: string;
  /** DER of its parameters element (RSASSA-PSS's hash, MGF and salt), undefined when absent. */
  readonly signatureParameters: Buffer | undefined;
  /** Whether the TBS signature AlgorithmIdentifier equals the outer one, as RFC 5280 requires. */
  readonly signatureAlgorithmsMatch: boolean;
  /** The subjectPublicKeyInfo algorithm OID; undefined when it does not read as DER. */
  readonly keyAlgorithm: string | undefined;
  /** Its parameters when they are an OID (an EC key's named curve), else undefined. */
  readonly keyParameterOid: string | undefined;
}

/** The explicit [0] tag of the optional TBS version. */
const VERSION = 0xa0;

/** Reads the spans of a DER certificate; throws DerError when the framing is not DER. */
export function readCertificateSpans(der: Uint8Array): CertificateSpans {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const cert = expectTag(readTlv(buf, 0, buf.length, 'certificate'), TAG.sequence, 'certificate');
  if (cert.end !== buf.length) throw new DerError(`certificate: ${buf.length - cert.end} trailing bytes`);
  const tbs = expectTag(readTlv(buf, cert.start, cert.end, 'tbsCertificate'), TAG.sequence, 'tbsCertificate');
  const sigAlg = expectTag(
    readTlv(buf, tbs.end, cert.end, 'signatureAlgorithm'),
    TAG.sequence,
    'signatureAlgorithm',
  );
  const sigValue = expectTag(
    readTlv(buf, sigAlg.end, cert.end, 'signatureValue'),
    TAG.bitString,
    'signatureValue',
  );
  if (sigValue.end !== cert.end) throw new DerError('certificate: unexpected data after signatureValue');

  let next = readTlv(buf, tbs.start, tbs.end, 'tbsCertificate');
  if (next.tag === VERSION) next = readTlv(buf, next.end, tbs.end, 'serialNumber');
  const serial = expectTag(next, TAG.integer, 'serialNumber');
  const tbsSigAlg = expectTag(readTlv(buf, serial.end, tbs.end, 'signature'), TAG.sequence, 'signature');
  const issuer = expectTag(readTlv(buf, tbsSigAlg.end, tbs.end, 'issuer'), TAG.sequence, 'issuer');
  const validity = expectTag(readTlv(buf, issuer.end, tbs.end, 'validity'), TAG.sequence, 'validity');
  const subject = expectTag(readTlv(buf, validity.end, tbs.end, 'subject'), TAG.sequence, 'subject');
  if (serial.end === serial.start) throw new DerError('serialNumber: empty');

  const oid = expectTag(
    readTlv(buf, sigAlg.start, sigAlg.end, 'signatureAlgorithm'),
    TAG.oid,
    'signatureAlgorithm',
  );
  const params = oid.end < sigAlg.end ? readTlv(buf, oid.end, sigAlg.end, 'signature parameters') : undefined;
  if (params !== undefined && params.end !== sigAlg.end)
    throw new DerError('signatureAlgorithm: unexpected data after the parameters');
  return {
    rawIssuer: Buffer.from(buf.subarray(issuer.offset, issuer.end)),
    rawSubject: Buffer.from(buf.subarray(subject.offset, subject.end)),
    serial: Buffer.from(buf.subarray(serial.start, serial.end)),
    signatureAlgorithm: decodeOidContent(buf.subarray(oid.start, oid.end)),
    signatureParameters:
      params === undefined ? undefined : Buffer.from(buf.subarray(params.offset, params.end)),
    signatureAlgorithmsMatch: buf
      .subarray(tbsSigAlg.offset, tbsSigAlg.end)
      .equals(buf.subarray(sigAlg.offset, sigAlg.end)),
    ...keyAlgorithm(buf, subject.end, tbs.end),
  };
}

/**
 * The subjectPublicKeyInfo's algorithm and OID parameter, which follow the subject. Only a hint
 * (node:crypto decides on the key): what does not read as DER is left undefined, not refused.
 */
function keyAlgorithm(
  buf: Buffer,
  from: number,
  to: number,
): Pick<CertificateSpans, 'keyAlgorithm' | 'keyParameterOid'> {
  try {
    const spki = expectTag(readTlv(buf, from, to, 'spki'), TAG.sequence, 'spki');
    const alg = expectTag(readTlv(buf, spki.start, spki.end, 'algorithm'), TAG.sequence, 'algorithm');
    const oid = expectTag(readTlv(buf, alg.start, alg.end, 'algorithm'), TAG.oid, 'algorithm');
    const params = oid.end < alg.end ? readTlv(buf, oid.end, alg.end, 'parameters') : undefined;
    return {
      keyAlgorithm: decodeOidContent(buf.subarray(oid.start, oid.end)),
      keyParameterOid:
        params?.tag === TAG.oid ? decodeOidContent(buf.subarray(params.start, params.end)) : undefined,
    };
  } catch (err) {
    if (err instanceof DerError) return { keyAlgorithm: undefined, keyParameterOid: undefined };
    throw err;
  }
}

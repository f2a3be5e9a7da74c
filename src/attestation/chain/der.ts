/**
 * A minimal DER reader for the few spans of a certificate that neither node:crypto nor
 * @peculiar/x509 hands out verbatim: the raw issuer and subject names (matched byte for byte, as
 * Go does), the serial number's sign, the signature algorithm OIDs, and the end of the encoding
 * (Node accepts trailing bytes after a certificate; Go does not, nor do we).
 */

interface Tlv {
  readonly tag: number;
  /** Offset of the first content byte. */
  readonly start: number;
  /** Offset just past the content. */
  readonly end: number;
  /** Offset of the tag byte. */
  readonly offset: number;
}

export class DerError extends Error {
  override readonly name = 'DerError';
}

function byteAt(buf: Uint8Array, i: number, what: string): number {
  const b = buf[i];
  if (b === undefined) throw new DerError(`${what}: truncated`);
  return b;
}

function readTlv(buf: Uint8Array, offset: number, limit: number, what: string): Tlv {
  if (offset + 2 > limit) throw new DerError(`${what}: truncated`);
  const tag = byteAt(buf, offset, what);
  if ((tag & 0x1f) === 0x1f) throw new DerError(`${what}: unsupported high tag number`);
  const first = byteAt(buf, offset + 1, what);
  let length: number;
  let start: number;
  if (first < 0x80) {
    length = first;
    start = offset + 2;
  } else {
    const count = first & 0x7f;
    // 0x80 is BER's indefinite length; more than 4 length bytes cannot fit in a certificate we accept.
    if (count === 0 || count > 4) throw new DerError(`${what}: unsupported length encoding`);
    if (offset + 2 + count > limit) throw new DerError(`${what}: truncated length`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + byteAt(buf, offset + 2 + i, what);
    if (buf[offset + 2] === 0 || length < 0x80) throw new DerError(`${what}: non-minimal length`);
    start = offset + 2 + count;
  }
  const end = start + length;
  if (end > limit) throw new DerError(`${what}: content runs past its container`);
  return { tag, start, end, offset };
}

function expect(tlv: Tlv, tag: number, what: string): Tlv {
  if (tlv.tag !== tag)
    throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${tlv.tag.toString(16)}`);
  return tlv;
}

export interface CertificateSpans {
  /** DER of the TBS issuer Name. */
  readonly rawIssuer: Buffer;
  /** DER of the TBS subject Name. */
  readonly rawSubject: Buffer;
  /** Content bytes of the serial number INTEGER (two's complement, big-endian). */
  readonly serial: Buffer;
  /** OID of the outer signatureAlgorithm. */
  readonly signatureAlgorithm: string;
  /** Whether the TBS signature AlgorithmIdentifier equals the outer one, as RFC 5280 requires. */
  readonly signatureAlgorithmsMatch: boolean;
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OID = 0x06;
const VERSION = 0xa0;

/** Reads the spans of a DER certificate; throws DerError when the framing is not DER. */
export function readCertificateSpans(der: Uint8Array): CertificateSpans {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const cert = expect(readTlv(buf, 0, buf.length, 'certificate'), SEQUENCE, 'certificate');
  if (cert.end !== buf.length) throw new DerError(`certificate: ${buf.length - cert.end} trailing bytes`);
  const tbs = expect(readTlv(buf, cert.start, cert.end, 'tbsCertificate'), SEQUENCE, 'tbsCertificate');
  const sigAlg = expect(
    readTlv(buf, tbs.end, cert.end, 'signatureAlgorithm'),
    SEQUENCE,
    'signatureAlgorithm',
  );
  const sigValue = expect(readTlv(buf, sigAlg.end, cert.end, 'signatureValue'), BIT_STRING, 'signatureValue');
  if (sigValue.end !== cert.end) throw new DerError('certificate: unexpected data after signatureValue');

  let next = readTlv(buf, tbs.start, tbs.end, 'tbsCertificate');
  if (next.tag === VERSION) next = readTlv(buf, next.end, tbs.end, 'serialNumber');
  const serial = expect(next, INTEGER, 'serialNumber');
  const tbsSigAlg = expect(readTlv(buf, serial.end, tbs.end, 'signature'), SEQUENCE, 'signature');
  const issuer = expect(readTlv(buf, tbsSigAlg.end, tbs.end, 'issuer'), SEQUENCE, 'issuer');
  const validity = expect(readTlv(buf, issuer.end, tbs.end, 'validity'), SEQUENCE, 'validity');
  const subject = expect(readTlv(buf, validity.end, tbs.end, 'subject'), SEQUENCE, 'subject');
  if (serial.end === serial.start) throw new DerError('serialNumber: empty');

  const oid = expect(readTlv(buf, sigAlg.start, sigAlg.end, 'signatureAlgorithm'), OID, 'signatureAlgorithm');
  return {
    rawIssuer: Buffer.from(buf.subarray(issuer.offset, issuer.end)),
    rawSubject: Buffer.from(buf.subarray(subject.offset, subject.end)),
    serial: Buffer.from(buf.subarray(serial.start, serial.end)),
    signatureAlgorithm: decodeOid(buf.subarray(oid.start, oid.end)),
    signatureAlgorithmsMatch: buf
      .subarray(tbsSigAlg.offset, tbsSigAlg.end)
      .equals(buf.subarray(sigAlg.offset, sigAlg.end)),
  };
}

function decodeOid(content: Buffer): string {
  if (content.length === 0) throw new DerError('OID: empty');
  const arcs: number[] = [];
  let value = 0;
  for (const [i, byte] of content.entries()) {
    if (value === 0 && byte === 0x80) throw new DerError('OID: non-minimal arc');
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) throw new DerError('OID: arc too large');
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    } else if (i === content.length - 1) throw new DerError('OID: truncated arc');
  }
  const [first = 0] = arcs;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

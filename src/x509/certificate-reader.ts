/**
 * The one certificate reader. It walks a DER certificate once, with the strict DER reader
 * (./der.ts), and gives what the identity code, the attestation server and their messages read:
 *
 * - the spans neither node:crypto nor @peculiar/x509 hands out verbatim: the raw issuer and
 *   subject names (matched byte for byte, as Go does), the serial number's content octets (for
 *   its sign), the signature algorithm OIDs and the outer one's parameters (RSASSA-PSS's hash and
 *   MGF live there), the end of the encoding (Node accepts trailing bytes after a certificate; Go
 *   does not, nor do we), and the key's algorithm (node:crypto's asymmetricKeyDetails costs
 *   ~80 µs on a new key). Framing that is not DER here throws a DerError;
 * - the fields: validity as Dates, the subject as ordered RDNs, the extensions the checks use
 *   (./extensions.ts). Where they are not DER, `fields` is the DerError instead, so that the
 *   server can leave such a certificate to @peculiar/x509 and the identity code can refuse it
 *   (one extension's value that is not DER is only noted: see there);
 * - whether the certificate is canonical: in the plain shape every decoder reads alike (see
 *   `CertificateFields.canonical`), which is when the server may take these fields for the ones
 *   @peculiar/x509 would give.
 */
import { DerError, TAG, decodeTime, expectTag, oidAt, readTlv, tlvChildren, type Tlv } from './der.js';
import { NO_EXTENSIONS, readExtensions, readCount, type Extensions } from './extensions.js';
import { readName, type Rdn } from './name.js';
import { OID } from './oids.js';
import { isPlainElement } from './plain.js';

export interface CertificateFields extends Omit<Extensions, 'canonical'> {
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Subject RDNs in order, each attribute's value decoded (undefined for an undecoded type). */
  readonly subject: readonly Rdn[];
  /**
   * Canonical: version v2 or v3 stated; non-empty whole-octet signature and key BIT STRINGs; an
   * SPKI of exactly an algorithm and a key; algorithm parameters and issuer attribute values
   * plain (./plain.ts); the inner signature algorithm equal to the outer one; exactly two
   * times; subject values printable text; no unique identifiers; every extension once and
   * readable, the decoded ones in their usual form (./extensions.ts).
   */
  readonly canonical: boolean;
}

export interface CertificateDer {
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
  /** The subjectPublicKeyInfo algorithm OID; undefined when it does not read as DER (a hint only). */
  readonly keyAlgorithm: string | undefined;
  /** Its parameters when they are an OID (an EC key's named curve), else undefined. */
  readonly keyParameterOid: string | undefined;
  /** The decoded fields, or the DerError that stopped them. */
  readonly fields: CertificateFields | DerError;
}

/** The explicit tags of the TBS version and extensions. */
const VERSION = 0xa0;
const EXTENSIONS = 0xa3;

/** Reads a DER certificate; throws a DerError when its framing is not DER (see the header). */
export function readCertificateDer(der: Uint8Array): CertificateDer {
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
  const version = next.tag === VERSION ? next : undefined;
  if (version !== undefined) next = readTlv(buf, next.end, tbs.end, 'serialNumber');
  const serial = expectTag(next, TAG.integer, 'serialNumber');
  const tbsSigAlg = expectTag(readTlv(buf, serial.end, tbs.end, 'signature'), TAG.sequence, 'signature');
  const issuer = expectTag(readTlv(buf, tbsSigAlg.end, tbs.end, 'issuer'), TAG.sequence, 'issuer');
  const validity = expectTag(readTlv(buf, issuer.end, tbs.end, 'validity'), TAG.sequence, 'validity');
  const subject = expectTag(readTlv(buf, validity.end, tbs.end, 'subject'), TAG.sequence, 'subject');
  if (serial.end === serial.start) throw new DerError('serialNumber: empty');

  const signature = algorithm(buf, sigAlg, 'signatureAlgorithm');
  const signatureAlgorithmsMatch = buf
    .subarray(tbsSigAlg.offset, tbsSigAlg.end)
    .equals(buf.subarray(sigAlg.offset, sigAlg.end));
  const key = publicKeyInfo(buf, subject.end, tbs.end);
  const framing =
    signature.plain &&
    signatureAlgorithmsMatch &&
    key.plain &&
    wholeOctets(buf, sigValue) &&
    (version === undefined || isVersion2or3(buf, version));

  let fields: CertificateFields | DerError;
  try {
    fields = readFields(buf, { tbs, issuer, validity, subject, after: key.end, framing });
  } catch (err) {
    if (!(err instanceof DerError)) throw err;
    fields = err;
  }
  const params = signature.parameters;
  return {
    rawIssuer: Buffer.from(buf.subarray(issuer.offset, issuer.end)),
    rawSubject: Buffer.from(buf.subarray(subject.offset, subject.end)),
    serial: Buffer.from(buf.subarray(serial.start, serial.end)),
    signatureAlgorithm: signature.oid,
    signatureParameters:
      params === undefined ? undefined : Buffer.from(buf.subarray(params.offset, params.end)),
    signatureAlgorithmsMatch,
    keyAlgorithm: key.algorithm,
    keyParameterOid: key.parameterOid,
    fields,
  };
}

/**
 * The fields of a certificate, as the identity code reads them: a DerError (ERR_INPUT,
 * "malformed DER: …") when the certificate does not read, or its extKeyUsage (the one extension
 * that code decides on) does not.
 */
export function readCertificateFields(der: Uint8Array): CertificateFields {
  const { fields } = readCertificateDer(der);
  if (fields instanceof DerError) throw fields;
  const eku = fields.unreadable.get(OID.extKeyUsage);
  if (eku !== undefined) throw eku;
  return fields;
}

interface Algorithm {
  readonly oid: string;
  readonly parameters: Tlv | undefined;
  /** The parameters, when present, are a plain element. */
  readonly plain: boolean;
}

/** An AlgorithmIdentifier: an OID and at most one parameters element. */
function algorithm(buf: Buffer, el: Tlv, what: string): Algorithm {
  const oidTlv = expectTag(readTlv(buf, el.start, el.end, what), TAG.oid, what);
  const parameters = oidTlv.end < el.end ? readTlv(buf, oidTlv.end, el.end, `${what} parameters`) : undefined;
  if (parameters !== undefined && parameters.end !== el.end)
    throw new DerError(`${what}: unexpected data after the parameters`);
  return {
    oid: oidAt(buf, oidTlv, what),
    parameters,
    plain: parameters === undefined || isPlainElement(buf, parameters),
  };
}

/** A BIT STRING of whole octets with at least one: signatures and keys. */
function wholeOctets(buf: Buffer, el: Tlv | undefined): boolean {
  return el?.tag === TAG.bitString && el.end - el.start >= 2 && buf[el.start] === 0;
}

/** [0] EXPLICIT INTEGER 1 or 2: DER leaves out the default v1. */
function isVersion2or3(buf: Buffer, el: Tlv): boolean {
  try {
    const [v, more] = tlvChildren(buf, el, 'version');
    if (more !== undefined) return false;
    const n = readCount(buf, v, 'version', 1);
    return n === 1 || n === 2;
  } catch (err) {
    if (err instanceof DerError) return false;
    throw err;
  }
}

interface PublicKeyInfo {
  readonly algorithm: string | undefined;
  readonly parameterOid: string | undefined;
  /** Offset just past it, where the optional TBS fields start; undefined when it does not read. */
  readonly end: number | undefined;
  readonly plain: boolean;
}

const NO_KEY_INFO = { algorithm: undefined, parameterOid: undefined, plain: false } as const;

/**
 * The subjectPublicKeyInfo after the subject. Its algorithm is a hint only (node:crypto decides
 * on the key): what does not read as DER is left undefined, not refused.
 */
function publicKeyInfo(buf: Buffer, from: number, to: number): PublicKeyInfo {
  let spki: Tlv;
  try {
    spki = expectTag(readTlv(buf, from, to, 'subjectPublicKeyInfo'), TAG.sequence, 'subjectPublicKeyInfo');
  } catch (err) {
    if (!(err instanceof DerError)) throw err;
    return { ...NO_KEY_INFO, end: undefined };
  }
  try {
    const [alg, bits, more] = tlvChildren(buf, spki, 'subjectPublicKeyInfo');
    const { oid, parameters, plain } = algorithm(buf, expectTag(alg, TAG.sequence, 'algorithm'), 'algorithm');
    return {
      algorithm: oid,
      parameterOid: parameters?.tag === TAG.oid ? oidAt(buf, parameters, 'parameters') : undefined,
      end: spki.end,
      plain: plain && more === undefined && wholeOctets(buf, bits),
    };
  } catch (err) {
    if (!(err instanceof DerError)) throw err;
    return { ...NO_KEY_INFO, end: spki.end };
  }
}

interface TbsParts {
  readonly tbs: Tlv;
  readonly issuer: Tlv;
  readonly validity: Tlv;
  readonly subject: Tlv;
  /** Where the optional fields (unique identifiers, extensions) start: after the key. */
  readonly after: number | undefined;
  /** Whether everything read so far is canonical. */
  readonly framing: boolean;
}

function readFields(buf: Buffer, t: TbsParts): CertificateFields {
  const times = tlvChildren(buf, t.validity, 'validity');
  const [notBefore, notAfter] = times;
  if (notBefore === undefined || notAfter === undefined) throw new DerError('validity: incomplete');
  const from = decodeTime({ tag: notBefore.tag, content: buf.subarray(notBefore.start, notBefore.end) });
  const to = decodeTime({ tag: notAfter.tag, content: buf.subarray(notAfter.start, notAfter.end) });
  const subject = readName(buf, t.subject, 'subject');
  const issuer = readName(buf, t.issuer, 'issuer');
  if (t.after === undefined) throw new DerError('subjectPublicKeyInfo: missing or malformed');

  // Unique identifiers ([1], [2]) and anything but one [3] are not canonical; [3] is read wherever it is.
  let extensions: Extensions = NO_EXTENSIONS;
  let optional = true;
  let found = false;
  for (let pos = t.after; pos < t.tbs.end;) {
    const el = readTlv(buf, pos, t.tbs.end, 'tbsCertificate');
    if (el.tag === EXTENSIONS && !found) {
      extensions = readExtensions(buf, el);
      found = true;
    } else optional = false;
    pos = el.end;
  }
  return {
    notBefore: from,
    notAfter: to,
    subject: subject.rdns,
    basicConstraints: extensions.basicConstraints,
    keyUsage: extensions.keyUsage,
    extKeyUsage: extensions.extKeyUsage,
    hasSubjectAltName: extensions.hasSubjectAltName,
    subjectKeyId: extensions.subjectKeyId,
    authorityKeyId: extensions.authorityKeyId,
    criticalExtensions: extensions.criticalExtensions,
    extensionTypes: extensions.extensionTypes,
    unreadable: extensions.unreadable,
    canonical:
      t.framing &&
      times.length === 2 &&
      subject.printable &&
      issuer.plain &&
      optional &&
      extensions.canonical,
  };
}

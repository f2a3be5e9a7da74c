/**
 * The certificate fields certificate.ts reads with @peculiar/x509 (subject RDNs, the extensions
 * the checks use), read instead with the strict DER reader. @peculiar/x509's ASN.1 stack costs
 * about 3 ms per certificate, most of the server plugin's time per attestation; this costs tens of
 * microseconds.
 *
 * It is a fast path, not a second parser with its own opinions: it only answers for a
 * certificate in the canonical shape it can read exactly as @peculiar/x509 reads it, and returns
 * undefined for anything else, for which certificate.ts uses @peculiar/x509 as before. So every
 * result, and every refusal, is the one @peculiar/x509 gives (a differential test compares both
 * on generated certificates). Canonical here means: strict DER throughout the structure RFC 5280
 * gives a certificate, at most MAX_FAST_BYTES (far below asn1js's node and depth limits, so they
 * cannot trip), subject values that are UTF8String, PrintableString or IA5String holding
 * printable ASCII, and only extensions this reader reads (basicConstraints, keyUsage,
 * extKeyUsage, subject and authority key identifiers, each in its usual form) or ones
 * @peculiar/x509 has no reader for and keeps as opaque bytes. A subjectAltName, certificate
 * policies, CRL distribution points, authority information access or issuer alternative name,
 * unique IDs, a duplicate extension or anything unusual takes the @peculiar/x509 path.
 */
import { TAG, decodeOidContent, decodeTime, readTlv, type Tlv } from '../../x509/der.js';

export interface FastSubjectAttribute {
  readonly type: string;
  readonly value: string;
}

export interface FastFields {
  readonly subjectRdns: readonly (readonly FastSubjectAttribute[])[];
  readonly basicConstraints: { readonly ca: boolean; readonly pathLength: number | undefined } | undefined;
  readonly keyUsage: number | undefined;
  readonly extKeyUsage: readonly string[] | undefined;
  /** A subjectAltName always takes the @peculiar/x509 path. */
  readonly hasSubjectAltName: false;
  readonly subjectKeyId: string | undefined;
  readonly authorityKeyId: string | undefined;
  readonly criticalExtensions: readonly string[];
}

/** Larger certificates take the @peculiar/x509 path (a kubelet client certificate is < 1 KiB). */
export const MAX_FAST_BYTES = 8000;
/** Deepest nesting walked inside opaque values (algorithm parameters, names' other values). */
const MAX_ANY_DEPTH = 16;

const EXT = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
} as const;

const VERSION = 0xa0;
const EXTENSIONS = 0xa3;
const AKI_KEY_ID = 0x80;

/** Thrown inside this module when the input is outside the fast path; never escapes it. */
class NotCanonical extends Error {}

const not = (): never => {
  throw new NotCanonical();
};

/**
 * The fields of `der` (a certificate node:crypto has already parsed), or undefined when it is
 * not in the canonical shape described above. `typedByPeculiar(oid)` says whether
 * @peculiar/x509 parses the value of that extension type (those take the slow path unless this
 * reader reads them itself).
 */
export function readFastFields(
  der: Buffer,
  typedByPeculiar: (oid: string) => boolean,
): FastFields | undefined {
  if (der.length > MAX_FAST_BYTES) return undefined;
  try {
    return read(der, typedByPeculiar);
  } catch {
    // NotCanonical or a DerError: not for this reader. Anything else would be a bug here, and
    // then too @peculiar/x509 decides rather than this reader refusing the certificate.
    return undefined;
  }
}

function children(buf: Buffer, el: Tlv, what: string): Tlv[] {
  if ((el.tag & 0x20) === 0) not();
  const out: Tlv[] = [];
  for (let pos = el.start; pos < el.end;) {
    const t = readTlv(buf, pos, el.end, what);
    out.push(t);
    pos = t.end;
  }
  return out;
}

function tagged(el: Tlv | undefined, tag: number): Tlv {
  if (el?.tag !== tag) return not();
  return el;
}

const content = (buf: Buffer, el: Tlv): Buffer => buf.subarray(el.start, el.end);

/** Decoded OIDs by their content octets (as latin1 text); the same few recur in every certificate. */
const oidMemo = new Map<string, string>();
const OID_MEMO_LIMIT = 512;

function oid(buf: Buffer, el: Tlv | undefined): string {
  const o = tagged(el, TAG.oid);
  const key = buf.toString('latin1', o.start, o.end);
  let dotted = oidMemo.get(key);
  if (dotted === undefined) {
    dotted = decodeOidContent(content(buf, o));
    // Bounded: a stream of certificates with made-up OIDs must not grow it without end.
    if (oidMemo.size < OID_MEMO_LIMIT) oidMemo.set(key, dotted);
  }
  return dotted;
}

const NULL_TAG = 0x05;

/**
 * Any element (algorithm parameters, issuer attribute values): walked in strict DER with a
 * bounded depth, and only of kinds asn1js reads without judging their content, so that it cannot
 * refuse what this reader passed.
 */
function anyElement(buf: Buffer, el: Tlv, depth: number): void {
  if (depth > MAX_ANY_DEPTH) not();
  const universal = (el.tag & 0xc0) === 0;
  if ((el.tag & 0x20) !== 0) {
    if (universal && el.tag !== TAG.sequence && el.tag !== TAG.set) not();
    for (const child of children(buf, el, 'element')) anyElement(buf, child, depth + 1);
    return;
  }
  const length = el.end - el.start;
  if (!universal || el.tag === TAG.octetString) return;
  if (el.tag === TAG.integer && length > 0) return;
  if (el.tag === NULL_TAG && length === 0) return;
  if (el.tag === TAG.oid) {
    oid(buf, el); // decoded for its check; memoised like every other OID here
    return;
  }
  if (el.tag === TAG.bitString && length > 0) {
    const unused = buf[el.start] ?? 8;
    if (unused === 0 || (unused <= 7 && length > 1)) return;
  }
  text(buf, el);
}

function algorithmIdentifier(buf: Buffer, el: Tlv | undefined): void {
  const parts = children(buf, tagged(el, TAG.sequence), 'AlgorithmIdentifier');
  if (parts.length < 1 || parts.length > 2) not();
  oid(buf, parts[0]);
  if (parts[1] !== undefined) anyElement(buf, parts[1], 0);
}

/** A Name: SEQUENCE OF non-empty SET OF {type, value}; `value` reads (or just checks) each value. */
function name<T>(
  buf: Buffer,
  el: Tlv | undefined,
  value: (type: string, v: Tlv) => T,
): { type: string; value: T }[][] {
  return children(buf, tagged(el, TAG.sequence), 'Name').map((set) => {
    const atvs = children(buf, tagged(set, TAG.set), 'RDN');
    if (atvs.length === 0) not();
    return atvs.map((atv) => {
      const [t, v, extra] = children(buf, tagged(atv, TAG.sequence), 'attribute');
      if (v === undefined || extra !== undefined) return not();
      const type = oid(buf, t);
      return { type, value: value(type, v) };
    });
  });
}

const TEXT_TAGS = new Set<number>([TAG.utf8String, TAG.printableString, TAG.ia5String]);

/** Printable ASCII in one of the three string types every decoder reads byte for byte alike. */
function text(buf: Buffer, el: Tlv): string {
  if (!TEXT_TAGS.has(el.tag)) not();
  for (let i = el.start; i < el.end; i++) {
    const b = buf[i] ?? 0;
    if (b < 0x20 || b > 0x7e) not();
  }
  return buf.toString('latin1', el.start, el.end);
}

/**
 * Subject RDNs as certificate.ts builds them from @peculiar/x509's Name.toJSON(): within an RDN
 * the attributes are grouped by type, in order of each type's first appearance.
 */
function groupRdn(rdn: readonly { type: string; value: string }[]): FastSubjectAttribute[] {
  // Nearly every RDN has one attribute: nothing to group.
  if (rdn.length === 1) return rdn as FastSubjectAttribute[];
  const byType = new Map<string, string[]>();
  for (const a of rdn) {
    const list = byType.get(a.type);
    if (list === undefined) byType.set(a.type, [a.value]);
    else list.push(a.value);
  }
  return [...byType].flatMap(([type, values]) => values.map((value) => ({ type, value })));
}

/** A one-byte BOOLEAN in DER (0xff) or the explicit FALSE asn1js also reads (0x00). */
function boolean(buf: Buffer, maybe: Tlv | undefined): boolean {
  const el = tagged(maybe, TAG.boolean);
  if (el.end - el.start !== 1) not();
  const b = buf[el.start];
  if (b === 0xff) return true;
  if (b === 0x00) return false;
  return not();
}

/** A minimal non-negative INTEGER of 1 to 3 octets (asn1-schema returns a number for these). */
function smallInteger(buf: Buffer, maybe: Tlv | undefined): number {
  const el = tagged(maybe, TAG.integer);
  const n = el.end - el.start;
  if (n < 1 || n > 3) not();
  const first = buf[el.start] ?? 0;
  if (first & 0x80) not();
  if (n > 1 && first === 0 && ((buf[el.start + 1] ?? 0) & 0x80) === 0) not();
  let v = 0;
  for (let i = el.start; i < el.end; i++) v = v * 256 + (buf[i] ?? 0);
  return v;
}

/** The whole extnValue as exactly one TLV. */
function inner(buf: Buffer, value: Tlv, what: string): Tlv {
  const el = readTlv(buf, value.start, value.end, what);
  if (el.end !== value.end) not();
  return el;
}

function basicConstraints(buf: Buffer, value: Tlv): { ca: boolean; pathLength: number | undefined } {
  const parts = children(
    buf,
    tagged(inner(buf, value, 'BasicConstraints'), TAG.sequence),
    'BasicConstraints',
  );
  let i = 0;
  let ca = false;
  let pathLength: number | undefined;
  if (parts[i]?.tag === TAG.boolean) ca = boolean(buf, parts[i++]);
  if (parts[i]?.tag === TAG.integer) pathLength = smallInteger(buf, parts[i++]);
  if (i !== parts.length) not();
  return { ca, pathLength };
}

/**
 * keyUsage as asn1-schema's BitString.toNumber(): bit i of the BIT STRING (bit 0 = the first
 * octet's most significant bit) is 2^i; the unused trailing bits are ignored.
 */
function keyUsage(buf: Buffer, value: Tlv): number {
  const bits = tagged(inner(buf, value, 'KeyUsage'), TAG.bitString);
  const n = bits.end - bits.start - 1;
  const unused = buf[bits.start] ?? 8;
  if (n < 1 || n > 4 || unused > 7) not();
  let result = 0;
  const used = n * 8 - unused;
  for (let i = 0; i < used; i++) {
    const octet = buf[bits.start + 1 + (i >> 3)] ?? 0;
    if (octet & (0x80 >> (i & 7))) result += 2 ** i;
  }
  return result;
}

function extKeyUsage(buf: Buffer, value: Tlv): string[] {
  const list = children(buf, tagged(inner(buf, value, 'ExtKeyUsage'), TAG.sequence), 'ExtKeyUsage');
  if (list.length === 0) not();
  return list.map((el) => oid(buf, el));
}

function keyIdentifierHex(buf: Buffer, el: Tlv): string {
  if (el.end === el.start) not();
  return buf.toString('hex', el.start, el.end);
}

function subjectKeyId(buf: Buffer, value: Tlv): string {
  return keyIdentifierHex(buf, tagged(inner(buf, value, 'SubjectKeyIdentifier'), TAG.octetString));
}

/** Only the usual form, SEQUENCE { [0] keyIdentifier }; an issuer name and serial take the slow path. */
function authorityKeyId(buf: Buffer, value: Tlv): string {
  const parts = children(
    buf,
    tagged(inner(buf, value, 'AuthorityKeyIdentifier'), TAG.sequence),
    'AuthorityKeyIdentifier',
  );
  if (parts.length !== 1) not();
  return keyIdentifierHex(buf, tagged(parts[0], AKI_KEY_ID));
}

function read(der: Buffer, typedByPeculiar: (oid: string) => boolean): FastFields {
  const certificate = tagged(readTlv(der, 0, der.length, 'certificate'), TAG.sequence);
  if (certificate.end !== der.length) not();
  const [tbs, signatureAlgorithm, signature, extra] = children(der, certificate, 'certificate');
  if (extra !== undefined) not();
  algorithmIdentifier(der, signatureAlgorithm);
  const sig = tagged(signature, TAG.bitString);
  if (sig.end - sig.start < 2 || der[sig.start] !== 0) not();

  const fields = children(der, tagged(tbs, TAG.sequence), 'tbsCertificate');
  let i = 0;
  if (fields[i]?.tag === VERSION) {
    const [v, more] = children(der, tagged(fields[i++], VERSION), 'version');
    if (more !== undefined) not();
    const version = smallInteger(der, v);
    if (version !== 1 && version !== 2) not();
  }
  const serial = tagged(fields[i++], TAG.integer);
  if (serial.end === serial.start) not();
  algorithmIdentifier(der, fields[i++]);
  name(der, fields[i++], (_type, v) => {
    anyElement(der, v, 0);
  });
  const validity = children(der, tagged(fields[i++], TAG.sequence), 'validity');
  if (validity.length !== 2) not();
  for (const t of validity) {
    if (t.tag !== TAG.utcTime && t.tag !== TAG.generalizedTime) not();
    decodeTime({ tag: t.tag, content: content(der, t) });
  }
  const subjectRdns = name(der, fields[i++], (_type, v) => text(der, v)).map(groupRdn);
  const spki = children(der, tagged(fields[i++], TAG.sequence), 'subjectPublicKeyInfo');
  if (spki.length !== 2) not();
  algorithmIdentifier(der, spki[0]);
  const key = tagged(spki[1], TAG.bitString);
  if (key.end - key.start < 2 || der[key.start] !== 0) not();

  const out = {
    subjectRdns,
    basicConstraints: undefined as FastFields['basicConstraints'],
    keyUsage: undefined as number | undefined,
    extKeyUsage: undefined as string[] | undefined,
    hasSubjectAltName: false as const,
    subjectKeyId: undefined as string | undefined,
    authorityKeyId: undefined as string | undefined,
    criticalExtensions: [] as string[],
  };
  const extensions = fields[i];
  if (extensions !== undefined) {
    i += 1;
    const [list, more] = children(der, tagged(extensions, EXTENSIONS), 'extensions');
    if (list === undefined || more !== undefined) not();
    const seen = new Set<string>();
    for (const ext of children(der, tagged(list, TAG.sequence), 'Extensions')) {
      const parts = children(der, tagged(ext, TAG.sequence), 'Extension');
      const type = oid(der, parts[0]);
      let critical = false;
      let value: Tlv | undefined;
      if (parts.length === 3) {
        critical = boolean(der, parts[1]);
        value = parts[2];
      } else if (parts.length === 2) value = parts[1];
      value = tagged(value, TAG.octetString);
      // A duplicate is refused by the slow path, with its message.
      if (seen.has(type)) not();
      seen.add(type);
      if (critical) out.criticalExtensions.push(type);
      switch (type) {
        case EXT.basicConstraints:
          out.basicConstraints = basicConstraints(der, value);
          break;
        case EXT.keyUsage:
          out.keyUsage = keyUsage(der, value);
          break;
        case EXT.extKeyUsage:
          out.extKeyUsage = extKeyUsage(der, value);
          break;
        case EXT.subjectKeyIdentifier:
          out.subjectKeyId = subjectKeyId(der, value);
          break;
        case EXT.authorityKeyIdentifier:
          out.authorityKeyId = authorityKeyId(der, value);
          break;
        default:
          if (typedByPeculiar(type)) not();
      }
    }
  }
  // Unique identifiers ([1], [2]) or anything after the extensions: the slow path decides.
  if (i !== fields.length) not();
  return out;
}

/**
 * A certificate's extensions ([3] EXPLICIT SEQUENCE OF Extension), and the values of those the
 * checks decide on: basicConstraints, keyUsage, extKeyUsage, the subject and authority key
 * identifiers. A list that is not DER is a DerError. One extension whose value (or critical
 * flag) is not DER is noted in `unreadable` and left out, so that each caller decides whether it
 * needs that one (OpenSSL too reads extensions only when asked). What is DER but outside the
 * usual form (a duplicate extension, an empty extKeyUsage, an authority key identifier naming
 * the issuer, a path length or key usage longer than any real one) is read as well as it can be.
 * Either way the certificate is not canonical (see certificate-reader.ts).
 */
import { DerError, TAG, expectTag, oidAt, onlyTlv, tlvChildren, type Tlv } from './der.js';
import { OID } from './oids.js';

export interface BasicConstraints {
  readonly ca: boolean;
  readonly pathLength: number | undefined;
}

/** The extensions the checks decide on. */
export interface ExtensionFacts {
  readonly basicConstraints: BasicConstraints | undefined;
  /** keyUsage bits as @peculiar/x509's KeyUsageFlags number them (bit i of the BIT STRING is 2^i). */
  readonly keyUsage: number | undefined;
  /** Extended key usage OIDs, or undefined when the extension is absent. */
  readonly extKeyUsage: readonly string[] | undefined;
  readonly hasSubjectAltName: boolean;
  /** Lowercase hex key identifiers, when present. */
  readonly subjectKeyId: string | undefined;
  readonly authorityKeyId: string | undefined;
  /** OIDs of every extension marked critical. */
  readonly criticalExtensions: readonly string[];
}

/** Just the ExtensionFacts of `from` (which may be a larger object). */
export function extensionFacts(from: ExtensionFacts): ExtensionFacts {
  return {
    basicConstraints: from.basicConstraints,
    keyUsage: from.keyUsage,
    extKeyUsage: from.extKeyUsage,
    hasSubjectAltName: from.hasSubjectAltName,
    subjectKeyId: from.subjectKeyId,
    authorityKeyId: from.authorityKeyId,
    criticalExtensions: from.criticalExtensions,
  };
}

export interface Extensions extends ExtensionFacts {
  /** OIDs of every extension, in order. */
  readonly extensionTypes: readonly string[];
  /** Extensions whose value or critical flag is not DER, with the first problem met in each. */
  readonly unreadable: ReadonlyMap<string, DerError>;
  readonly canonical: boolean;
}

type Usual = (yes: boolean) => void;
type Decoded = { -readonly [K in keyof ExtensionFacts]: ExtensionFacts[K] };

type Decoder = (buf: Buffer, value: Tlv, out: Decoded, usual: Usual) => void;

/** Each decoded extension type, and where its value goes. */
const DECODERS: ReadonlyMap<string, Decoder> = new Map<string, Decoder>([
  [
    OID.basicConstraints,
    (buf, v, out, usual) => void (out.basicConstraints = basicConstraints(buf, v, usual)),
  ],
  [OID.keyUsage, (buf, v, out, usual) => void (out.keyUsage = keyUsage(buf, v, usual))],
  [OID.extKeyUsage, (buf, v, out, usual) => void (out.extKeyUsage = extKeyUsage(buf, v, usual))],
  [OID.subjectKeyIdentifier, (buf, v, out, usual) => void (out.subjectKeyId = subjectKeyId(buf, v, usual))],
  [
    OID.authorityKeyIdentifier,
    (buf, v, out, usual) => void (out.authorityKeyId = authorityKeyId(buf, v, usual)),
  ],
]);

/** The extension types whose values this module decodes. */
export const DECODED_EXTENSIONS: ReadonlySet<string> = new Set(DECODERS.keys());

export const NO_EXTENSIONS: Extensions = Object.freeze({
  basicConstraints: undefined,
  keyUsage: undefined,
  extKeyUsage: undefined,
  hasSubjectAltName: false,
  subjectKeyId: undefined,
  authorityKeyId: undefined,
  criticalExtensions: Object.freeze([]),
  extensionTypes: Object.freeze([]),
  unreadable: new Map(),
  canonical: true,
});

const AKI_KEY_ID = 0x80;

/** Reads the [3] extensions element `el` of `buf`. */
export function readExtensions(buf: Buffer, el: Tlv): Extensions {
  const list = expectTag(onlyTlv(buf, el, 'extensions'), TAG.sequence, 'Extensions');
  const out = {
    basicConstraints: undefined as BasicConstraints | undefined,
    keyUsage: undefined as number | undefined,
    extKeyUsage: undefined as string[] | undefined,
    hasSubjectAltName: false,
    subjectKeyId: undefined as string | undefined,
    authorityKeyId: undefined as string | undefined,
    criticalExtensions: [] as string[],
    extensionTypes: [] as string[],
    unreadable: new Map<string, DerError>(),
    canonical: true,
  };
  const usual = (yes: boolean): void => {
    if (!yes) out.canonical = false;
  };
  for (const ext of tlvChildren(buf, list, 'Extensions')) {
    const parts = tlvChildren(buf, expectTag(ext, TAG.sequence, 'Extension'), 'Extension');
    const type = oidAt(buf, parts[0], 'extnID');
    // RFC 5280 §4.2: at most once. The first one is read; the certificate is not canonical.
    const duplicate = out.extensionTypes.includes(type);
    out.extensionTypes.push(type);
    if (duplicate) out.canonical = false;
    if (type === OID.subjectAltName) out.hasSubjectAltName = true;
    try {
      if (parts.length < 2 || parts.length > 3) throw new DerError('Extension: expected 2 or 3 elements');
      const value = expectTag(parts[parts.length - 1], TAG.octetString, 'extnValue');
      if (!duplicate) DECODERS.get(type)?.(buf, value, out, usual);
      if (parts.length === 3 && readBoolean(buf, parts[1], 'critical')) out.criticalExtensions.push(type);
    } catch (err) {
      if (!(err instanceof DerError)) throw err;
      out.canonical = false;
      if (!duplicate && !out.unreadable.has(type)) out.unreadable.set(type, err);
    }
  }
  return out;
}

/** A one-byte BOOLEAN: 0xff, or the explicit FALSE (0x00) DER leaves out but every decoder reads. */
export function readBoolean(buf: Buffer, el: Tlv | undefined, what: string): boolean {
  const b = expectTag(el, TAG.boolean, what);
  const byte = b.end - b.start === 1 ? buf[b.start] : undefined;
  if (byte === 0xff) return true;
  if (byte === 0x00) return false;
  throw new DerError(`${what}: not a DER BOOLEAN`);
}

/**
 * A non-negative INTEGER in minimal form, of at most `maxOctets` content octets (≤ 6, so the
 * number is exact); a DerError otherwise.
 */
export function readCount(buf: Buffer, el: Tlv | undefined, what: string, maxOctets: number): number {
  const int = expectTag(el, TAG.integer, what);
  const n = int.end - int.start;
  const first = buf[int.start] ?? 0;
  if (n < 1) throw new DerError(`${what}: empty INTEGER`);
  if (first & 0x80) throw new DerError(`${what}: negative`);
  if (n > 1 && first === 0 && ((buf[int.start + 1] ?? 0) & 0x80) === 0)
    throw new DerError(`${what}: non-minimal INTEGER`);
  if (n > maxOctets) throw new DerError(`${what}: too large`);
  let v = 0;
  for (let i = int.start; i < int.end; i++) v = v * 256 + (buf[i] ?? 0);
  return v;
}

function basicConstraints(buf: Buffer, value: Tlv, usual: Usual): BasicConstraints {
  const seq = expectTag(onlyTlv(buf, value, 'BasicConstraints'), TAG.sequence, 'BasicConstraints');
  const parts = tlvChildren(buf, seq, 'BasicConstraints');
  let i = 0;
  let ca = false;
  let pathLength: number | undefined;
  if (parts[i]?.tag === TAG.boolean) ca = readBoolean(buf, parts[i++], 'cA');
  if (parts[i]?.tag === TAG.integer) {
    const el = parts[i++];
    pathLength = readCount(buf, el, 'pathLenConstraint', 6);
    // asn1-schema gives a number only up to 3 octets.
    usual(el !== undefined && el.end - el.start <= 3);
  }
  if (i !== parts.length) throw new DerError('BasicConstraints: unexpected element');
  return { ca, pathLength };
}

/**
 * keyUsage as asn1-schema's BitString.toNumber(): bit i of the BIT STRING (bit 0 = the first
 * octet's most significant bit) is 2^i; the unused trailing bits are ignored.
 */
function keyUsage(buf: Buffer, value: Tlv, usual: Usual): number {
  const bits = expectTag(onlyTlv(buf, value, 'KeyUsage'), TAG.bitString, 'KeyUsage');
  const n = bits.end - bits.start - 1;
  const unused = buf[bits.start] ?? 8;
  if (n < 0 || unused > 7 || (n === 0 && unused !== 0)) throw new DerError('KeyUsage: malformed BIT STRING');
  usual(n >= 1 && n <= 4);
  let result = 0;
  const used = Math.min(n * 8 - unused, 32);
  for (let i = 0; i < used; i++) {
    const octet = buf[bits.start + 1 + (i >> 3)] ?? 0;
    if (octet & (0x80 >> (i & 7))) result += 2 ** i;
  }
  return result;
}

function extKeyUsage(buf: Buffer, value: Tlv, usual: Usual): string[] {
  const seq = expectTag(onlyTlv(buf, value, 'ExtKeyUsageSyntax'), TAG.sequence, 'ExtKeyUsageSyntax');
  const list = tlvChildren(buf, seq, 'ExtKeyUsageSyntax').map((el) => oidAt(buf, el, 'KeyPurposeId'));
  usual(list.length > 0);
  return list;
}

function keyIdentifierHex(buf: Buffer, el: Tlv, usual: Usual): string {
  usual(el.end > el.start);
  return buf.toString('hex', el.start, el.end);
}

function subjectKeyId(buf: Buffer, value: Tlv, usual: Usual): string {
  const id = expectTag(onlyTlv(buf, value, 'SubjectKeyIdentifier'), TAG.octetString, 'SubjectKeyIdentifier');
  return keyIdentifierHex(buf, id, usual);
}

/** The keyIdentifier; the usual form is that alone, SEQUENCE { [0] keyIdentifier }. */
function authorityKeyId(buf: Buffer, value: Tlv, usual: Usual): string | undefined {
  const seq = expectTag(
    onlyTlv(buf, value, 'AuthorityKeyIdentifier'),
    TAG.sequence,
    'AuthorityKeyIdentifier',
  );
  const parts = tlvChildren(buf, seq, 'AuthorityKeyIdentifier');
  const [first] = parts;
  usual(parts.length === 1 && first?.tag === AKI_KEY_ID);
  return first?.tag === AKI_KEY_ID ? keyIdentifierHex(buf, first, usual) : undefined;
}

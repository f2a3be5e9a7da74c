/**
 * "Plain" elements: the forms every DER decoder reads alike, byte for byte. The certificate
 * reader marks a certificate canonical only when what it does not decode itself (algorithm
 * parameters, issuer attribute values) and the strings it does decode are plain, so that another
 * ASN.1 stack (@peculiar/x509's asn1js) cannot read them differently or refuse them.
 */
import { DerError, TAG, oidAt, tlvChildren, type Tlv } from './der.js';

/** Deepest nesting walked inside an opaque value; far below asn1js's own limits. */
const MAX_PLAIN_DEPTH = 16;

const TEXT_TAGS = new Set<number>([TAG.utf8String, TAG.printableString, TAG.ia5String]);

/**
 * The text of `el` when it is printable ASCII in a UTF8String, PrintableString or IA5String (the
 * three string types every decoder reads byte for byte alike); undefined otherwise.
 */
export function printableText(buf: Buffer, el: Tlv): string | undefined {
  if (!TEXT_TAGS.has(el.tag)) return undefined;
  for (let i = el.start; i < el.end; i++) {
    const b = buf[i] ?? 0;
    if (b < 0x20 || b > 0x7e) return undefined;
  }
  return buf.toString('latin1', el.start, el.end);
}

/**
 * Whether `el` is strict DER all the way down (at most MAX_PLAIN_DEPTH deep) and only of kinds
 * asn1js reads without judging their content: SEQUENCE, SET, context or application elements,
 * OCTET STRING, non-empty INTEGER, empty NULL, OID, a well-formed BIT STRING, printable text.
 * Never throws: content that is not DER is simply not plain.
 */
export function isPlainElement(buf: Buffer, el: Tlv, depth = 0): boolean {
  try {
    return plain(buf, el, depth);
  } catch (err) {
    if (err instanceof DerError) return false;
    throw err;
  }
}

function plain(buf: Buffer, el: Tlv, depth: number): boolean {
  if (depth > MAX_PLAIN_DEPTH) return false;
  const universal = (el.tag & 0xc0) === 0;
  if ((el.tag & 0x20) !== 0) {
    if (universal && el.tag !== TAG.sequence && el.tag !== TAG.set) return false;
    return tlvChildren(buf, el, 'element').every((child) => plain(buf, child, depth + 1));
  }
  const length = el.end - el.start;
  if (!universal || el.tag === TAG.octetString) return true;
  if (el.tag === TAG.integer) return length > 0;
  if (el.tag === TAG.null) return length === 0;
  if (el.tag === TAG.oid) {
    oidAt(buf, el, 'OID'); // throws a DerError for a non-minimal or truncated arc
    return true;
  }
  if (el.tag === TAG.bitString && length > 0) {
    const unused = buf[el.start] ?? 8;
    if (unused === 0 || (unused <= 7 && length > 1)) return true;
  }
  return printableText(buf, el) !== undefined;
}

/**
 * The one DER reader. Strict, because the attestation server makes trust decisions on what it
 * reads (raw names matched byte for byte, serial signs, signature algorithm OIDs) and the
 * identity code decides on subjects and validity: only definite lengths in their minimal
 * encoding, low tag numbers, no content running past its container, minimal OID arcs. BER
 * leniency here would let two encodings of one certificate read differently than OpenSSL and Go
 * read them.
 *
 * Two views over one TLV reader: offsets (readTlv, for code that needs the exact bytes of an
 * element, header included) and nodes (parseDer/childrenOf, for walking a structure).
 */
import { AttestorError } from '../errors.js';

/**
 * A DER framing or value problem. `problem` names the element and what is wrong ("issuer:
 * truncated"); trust-path callers re-raise it under their own code and label. Left unwrapped it
 * is ERR_INPUT ("malformed DER: …"), which is what the identity and CSR code report.
 */
export class DerError extends AttestorError {
  readonly problem: string;

  constructor(problem: string) {
    super('ERR_INPUT', `malformed DER: ${problem}`);
    this.problem = problem;
  }
}

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  t61String: 0x14,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  universalString: 0x1c,
  bmpString: 0x1e,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Where one TLV sits in the buffer it was read from. */
export interface Tlv {
  /** The identifier octet (class, constructed bit, tag number); high tag numbers are rejected. */
  readonly tag: number;
  /** Offset of the identifier octet: the element's encoding is buf[offset, end). */
  readonly offset: number;
  /** Offset of the first content octet. */
  readonly start: number;
  /** Offset just past the content. */
  readonly end: number;
}

function byteAt(buf: Uint8Array, i: number, what: string): number {
  const b = buf[i];
  if (b === undefined) throw new DerError(`${what}: truncated`);
  return b;
}

/**
 * Reads the TLV at `offset`, which must end by `limit` (its container's end). `what` names the
 * element in the error.
 */
export function readTlv(buf: Uint8Array, offset: number, limit: number, what: string): Tlv {
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
    // DER: the long form only when the short one cannot say it, and no leading zero octets.
    if (buf[offset + 2] === 0 || length < 0x80) throw new DerError(`${what}: non-minimal length`);
    start = offset + 2 + count;
  }
  const end = start + length;
  if (end > limit) throw new DerError(`${what}: content runs past its container`);
  return { tag, start, end, offset };
}

/** `el` when it has `tag`; a DerError naming `what` otherwise (also when it is missing). */
export function expectTag<T extends { readonly tag: number }>(
  el: T | undefined,
  tag: number,
  what: string,
): T {
  if (el === undefined) throw new DerError(`${what}: missing`);
  if (el.tag !== tag)
    throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${el.tag.toString(16)}`);
  return el;
}

/** The TLVs inside constructed `el` of `buf`; they must fill it exactly. */
export function tlvChildren(buf: Uint8Array, el: Tlv, what: string): Tlv[] {
  if ((el.tag & 0x20) === 0) throw new DerError(`${what}: tag 0x${el.tag.toString(16)} is not constructed`);
  const out: Tlv[] = [];
  for (let pos = el.start; pos < el.end;) {
    const child = readTlv(buf, pos, el.end, what);
    out.push(child);
    pos = child.end;
  }
  return out;
}

/** The one TLV that fills `el`'s content exactly (an explicit tag's element, an OCTET STRING's value). */
export function onlyTlv(buf: Uint8Array, el: Tlv, what: string): Tlv {
  const inner = readTlv(buf, el.start, el.end, what);
  if (inner.end !== el.end) throw new DerError(`${what}: ${el.end - inner.end} trailing bytes`);
  return inner;
}

/** Decoded OIDs by their content octets (as latin1 text); the same few recur in every certificate. */
const oidMemo = new Map<string, string>();
const OID_MEMO_LIMIT = 512;

/** The dotted text of the OBJECT IDENTIFIER `el` (a DerError naming `what` if it is not one). */
export function oidAt(buf: Buffer, el: Tlv | undefined, what: string): string {
  const o = expectTag(el, TAG.oid, what);
  const key = buf.toString('latin1', o.start, o.end);
  let dotted = oidMemo.get(key);
  if (dotted === undefined) {
    dotted = decodeOidContent(buf.subarray(o.start, o.end));
    // Bounded: a stream of certificates with made-up OIDs must not grow it without end.
    if (oidMemo.size < OID_MEMO_LIMIT) oidMemo.set(key, dotted);
  }
  return dotted;
}

/** One element's tag and content octets, for walking a structure. */
export interface DerNode {
  readonly tag: number;
  readonly content: Buffer;
}

/** Parses `buf` as exactly one TLV. */
export function parseDer(buf: Buffer, what = 'element'): DerNode {
  const tlv = readTlv(buf, 0, buf.length, what);
  if (tlv.end !== buf.length) throw new DerError(`${what}: ${buf.length - tlv.end} trailing bytes`);
  return { tag: tlv.tag, content: buf.subarray(tlv.start, tlv.end) };
}

/** The TLVs inside a constructed node (SEQUENCE, SET, explicit tags); they must fill it exactly. */
export function childrenOf(node: DerNode, what = 'element'): DerNode[] {
  const { content } = node;
  return tlvChildren(content, nodeTlv(node), what).map((t) => ({
    tag: t.tag,
    content: content.subarray(t.start, t.end),
  }));
}

/** `node` as a Tlv over its own content octets (its header is not there: offset is 0 too). */
export function nodeTlv(node: DerNode): Tlv {
  return { tag: node.tag, offset: 0, start: 0, end: node.content.length };
}

/** Dotted text of an OBJECT IDENTIFIER's content octets. */
export function decodeOidContent(content: Uint8Array): string {
  if (content.length === 0) throw new DerError('OID: empty');
  const arcs: number[] = [];
  let value = 0;
  for (const [i, byte] of content.entries()) {
    // A leading 0x80 pads an arc; DER forbids it (it would give one OID two encodings).
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

export function decodeOid(node: DerNode, what = 'OID'): string {
  return decodeOidContent(expectTag(node, TAG.oid, what).content);
}

/** The text of a directory string, or undefined for a string type this reader does not decode. */
export function decodeString(node: DerNode): string | undefined {
  switch (node.tag) {
    case TAG.utf8String:
      return node.content.toString('utf8');
    case TAG.printableString:
    case TAG.ia5String:
    case TAG.t61String:
      return node.content.toString('latin1');
    case TAG.bmpString:
      return node.content.length % 2 === 0
        ? Buffer.from(node.content).swap16().toString('utf16le')
        : undefined;
    case TAG.universalString: {
      if (node.content.length % 4 !== 0) return undefined;
      const points: number[] = [];
      for (let i = 0; i < node.content.length; i += 4) points.push(node.content.readUInt32BE(i));
      try {
        return String.fromCodePoint(...points);
      } catch {
        return undefined;
      }
    }
    default:
      return undefined;
  }
}

const UTC_TIME = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;
const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;

/** UTCTime or GeneralizedTime in the forms RFC 5280 allows (seconds, Zulu, no fraction). */
export function decodeTime(node: DerNode): Date {
  const text = node.content.toString('latin1');
  const bad = (): DerError => new DerError(`bad time ${JSON.stringify(text)}`);
  let m: RegExpExecArray | null;
  let year: number;
  if (node.tag === TAG.utcTime && (m = UTC_TIME.exec(text)) !== null) {
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy; // RFC 5280 4.1.2.5.1
  } else if (node.tag === TAG.generalizedTime && (m = GENERALIZED_TIME.exec(text)) !== null) {
    year = Number(m[1]);
  } else throw bad();
  const [mo, d, h, mi, s] = m.slice(2, 7).map(Number) as [number, number, number, number, number];
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, s));
  // Date.UTC rolls over out-of-range fields (month 13, second 61) and maps years < 100 to 19xx.
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== mo - 1 ||
    date.getUTCDate() !== d ||
    date.getUTCHours() !== h ||
    date.getUTCMinutes() !== mi ||
    date.getUTCSeconds() !== s
  )
    throw bad();
  return date;
}

/**
 * A minimal DER reader: just enough to take the subject, validity and extended key usages out of
 * a certificate that OpenSSL (node:crypto X509Certificate) has already parsed. It keeps the
 * reuse path free of @peculiar/x509, which is slow to load.
 */
import { AttestorError } from '../errors.js';

export interface DerNode {
  /** The identifier octet (class, constructed bit, tag number); high tag numbers are rejected. */
  readonly tag: number;
  readonly content: Buffer;
}

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
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

function malformed(what: string): AttestorError {
  return new AttestorError('ERR_INPUT', `malformed DER: ${what}`);
}

/** Reads the TLV at `offset`; returns it and the offset just past it. */
export function readNode(buf: Buffer, offset: number): { node: DerNode; next: number } {
  const tag = buf[offset];
  if (tag === undefined) throw malformed('unexpected end of data');
  if ((tag & 0x1f) === 0x1f) throw malformed('high tag numbers are not supported');
  const first = buf[offset + 1];
  if (first === undefined) throw malformed('missing length');
  let length = first;
  let pos = offset + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    // 0x80 is BER's indefinite length; more than 4 length octets is never a certificate.
    if (count === 0 || count > 4) throw malformed('unsupported length encoding');
    length = 0;
    for (let i = 0; i < count; i++) {
      const b = buf[pos++];
      if (b === undefined) throw malformed('truncated length');
      length = length * 256 + b;
    }
  }
  const end = pos + length;
  if (end > buf.length) throw malformed('length runs past the end of the data');
  return { node: { tag, content: buf.subarray(pos, end) }, next: end };
}

/** Parses `buf` as exactly one TLV. */
export function parseDer(buf: Buffer): DerNode {
  const { node, next } = readNode(buf, 0);
  if (next !== buf.length) throw malformed('trailing data');
  return node;
}

/** The TLVs inside a constructed node (SEQUENCE, SET, explicit tags). */
export function childrenOf(node: DerNode): DerNode[] {
  if ((node.tag & 0x20) === 0) throw malformed(`tag 0x${node.tag.toString(16)} is not constructed`);
  const out: DerNode[] = [];
  for (let pos = 0; pos < node.content.length;) {
    const { node: child, next } = readNode(node.content, pos);
    out.push(child);
    pos = next;
  }
  return out;
}

export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (node?.tag !== tag) throw malformed(`expected ${what}`);
  return node;
}

export function decodeOid(node: DerNode): string {
  expectTag(node, TAG.oid, 'an OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let value = 0;
  for (const [i, b] of node.content.entries()) {
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) throw malformed('OID arc too large');
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const top = value < 40 ? 0 : value < 80 ? 1 : 2;
        arcs.push(top, value - top * 40);
      } else arcs.push(value);
      value = 0;
    } else if (i === node.content.length - 1) throw malformed('truncated OID');
  }
  if (arcs.length === 0) throw malformed('empty OID');
  return arcs.join('.');
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
  let m: RegExpExecArray | null;
  let year: number;
  if (node.tag === TAG.utcTime && (m = UTC_TIME.exec(text)) !== null) {
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy; // RFC 5280 4.1.2.5.1
  } else if (node.tag === TAG.generalizedTime && (m = GENERALIZED_TIME.exec(text)) !== null) {
    year = Number(m[1]);
  } else throw malformed(`bad time ${JSON.stringify(text)}`);
  const [mo, d, h, mi, s] = m.slice(2, 7).map(Number) as [number, number, number, number, number];
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, s));
  // Date.UTC rolls over out-of-range fields (month 13, second 61) and maps years < 100 to 19xx.
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== mo - 1 ||
    date.getUTCDate() !== d ||
    date.getUTCHours() !== h
  )
    throw malformed(`bad time ${JSON.stringify(text)}`);
  if (date.getUTCMinutes() !== mi || date.getUTCSeconds() !== s)
    throw malformed(`bad time ${JSON.stringify(text)}`);
  return date;
}

/**
 * The DER writer: just the element types a PKCS#10 node client request needs. Hand-written
 * because the CLI's round trip is dominated by start-up, and loading @peculiar/x509 with its
 * ASN.1 stack to build one ~200-byte structure cost more than the rest of the flow (see
 * docs/development.md, "Why the CSR is built by hand"). Output is read back by ./der.ts (strict)
 * in the tests, and verified by OpenSSL and @peculiar/x509.
 */
import { TAG } from './der.js';

/** The big-endian base-256 digits of a non-negative integer, none for 0. */
function base256(value: number): number[] {
  const bytes: number[] = [];
  for (let n = value; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return bytes;
}

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes = base256(length);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One element: identifier octet, minimal definite length, then the content parts in order. */
export function tlv(tag: number, ...content: readonly Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
}

export const sequence = (...items: readonly Uint8Array[]): Buffer => tlv(TAG.sequence, ...items);
export const set = (...items: readonly Uint8Array[]): Buffer => tlv(TAG.set, ...items);
export const derNull = (): Buffer => Buffer.from([0x05, 0x00]);

/** A non-negative INTEGER small enough for a JavaScript number (versions, not serials). */
export function smallInteger(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`DER INTEGER ${String(value)}: out of range`);
  const bytes = base256(value);
  // Two's complement: a set top bit would read as negative.
  if (bytes.length === 0 || (bytes[0] ?? 0) >= 0x80) bytes.unshift(0);
  return tlv(TAG.integer, Buffer.from(bytes));
}

/** A dotted OID ("1.2.840.10045.4.3.2"), base-128 arcs with the first two combined. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => {
    if (!/^(0|[1-9]\d*)$/.test(a)) throw new RangeError(`OID ${dotted}: bad arc`);
    return Number(a);
  });
  const [first, second, ...rest] = arcs;
  if (first === undefined || second === undefined || first > 2 || (first < 2 && second > 39))
    throw new RangeError(`OID ${dotted}: bad first arcs`);
  const out: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    if (!Number.isSafeInteger(arc)) throw new RangeError(`OID ${dotted}: arc too large`);
    const septets = [arc % 128];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) septets.unshift(0x80 | (n % 128));
    out.push(...septets);
  }
  return tlv(TAG.oid, Buffer.from(out));
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/**
 * A directory string the way Go's encoding/asn1 writes pkix.Name values: PrintableString when
 * every character allows it, UTF8String otherwise. Kubernetes re-encodes the subject when it
 * signs, so this only keeps our request byte-identical to what a Go client would send.
 */
export function directoryString(value: string): Buffer {
  return PRINTABLE.test(value)
    ? tlv(TAG.printableString, Buffer.from(value, 'latin1'))
    : tlv(TAG.utf8String, Buffer.from(value, 'utf8'));
}

/** A BIT STRING of whole octets (no unused bits), as signatures are. */
export function bitString(bytes: Uint8Array): Buffer {
  return tlv(TAG.bitString, Buffer.from([0]), bytes);
}

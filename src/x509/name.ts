/**
 * Distinguished names (RFC 5280 Name, SEQUENCE OF RDN): certificate subjects and issuers, and
 * CSR subjects, read with the strict DER reader.
 */
import {
  DerError,
  TAG,
  decodeString,
  expectTag,
  nodeTlv,
  oidAt,
  tlvChildren,
  type DerNode,
  type Tlv,
} from './der.js';
import { ATTRIBUTE_TYPES } from './oids.js';
import { isPlainElement, printableText } from './plain.js';

export interface NameAttribute {
  /** Dotted OID. */
  readonly type: string;
  /** Undefined when the value is not a string type this reader decodes. */
  readonly value: string | undefined;
}
/** One relative distinguished name: usually a single attribute. */
export type Rdn = readonly NameAttribute[];

export interface Name {
  /** The RDNs in order, each with its attributes in order. */
  readonly rdns: Rdn[];
  /**
   * Every RDN has attributes, each exactly a type and a value, and every value is printable
   * text (see plain.ts): a subject every decoder reads alike.
   */
  readonly printable: boolean;
  /** The same, with every value a plain element rather than printable text: an issuer's test. */
  readonly plain: boolean;
}

/** Reads the Name `el` of `buf`; a DerError naming `what` when it is not one. */
export function readName(buf: Buffer, el: Tlv | undefined, what: string): Name {
  // An object, not lets: the callbacks below clear these.
  const seen = { shaped: true, printable: true, plain: true };
  const rdns = tlvChildren(buf, expectTag(el, TAG.sequence, what), what).map((set): Rdn => {
    const atvs = tlvChildren(buf, expectTag(set, TAG.set, 'RDN'), 'RDN');
    // Go reads an empty RDN and ignores data after an attribute's value; so does this, but not canonically.
    if (atvs.length === 0) seen.shaped = false;
    return atvs.map((atv) => {
      const [type, value, extra] = tlvChildren(buf, expectTag(atv, TAG.sequence, 'attribute'), 'attribute');
      if (value === undefined) throw new DerError('attribute: no value');
      if (extra !== undefined) seen.shaped = false;
      let text = printableText(buf, value);
      if (text === undefined) {
        seen.printable = false;
        if (seen.plain && !isPlainElement(buf, value)) seen.plain = false;
        text = decodeString({ tag: value.tag, content: buf.subarray(value.start, value.end) });
      }
      return { type: oidAt(buf, type, 'attribute type'), value: text };
    });
  });
  return { rdns, printable: seen.shaped && seen.printable, plain: seen.shaped && seen.plain };
}

/** A Name node from parseDer/childrenOf (a CSR's subject) as ordered RDNs. */
export function parseName(node: DerNode, what = 'Name'): Rdn[] {
  return readName(node.content, nodeTlv(node), what).rdns;
}

const SHORT_NAMES: ReadonlyMap<string, string> = new Map(
  Object.entries(ATTRIBUTE_TYPES).map(([short, oid]) => [oid, short]),
);

/** For messages only: "O=system:nodes, CN=system:node:n1" (never compare these strings). */
export function formatSubject(subject: readonly Rdn[]): string {
  if (subject.length === 0) return '(empty)';
  return subject
    .map((rdn) =>
      rdn.map((a) => `${SHORT_NAMES.get(a.type) ?? a.type}=${a.value ?? '(undecoded)'}`).join(' + '),
    )
    .join(', ');
}

/**
 * The certificate fields the identity code decides on and Node 20's X509Certificate does not
 * give structurally: the subject as ordered RDNs, validity as Dates, extended key usages.
 * Input is DER that OpenSSL has already accepted (X509Certificate.raw). Read with the strict DER
 * reader rather than @peculiar/x509, which is slow to load and stays off the reuse path.
 * Malformed input is ERR_INPUT ("malformed DER: …").
 */
import {
  DerError,
  TAG,
  childrenOf,
  decodeOid,
  decodeString,
  decodeTime,
  expectTag,
  parseDer,
  type DerNode,
} from '../x509/der.js';

export const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  extKeyUsage: '2.5.29.37',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

export interface NameAttribute {
  /** Dotted OID. */
  readonly type: string;
  /** Undefined when the value is not a string type this reader decodes. */
  readonly value: string | undefined;
}
/** One relative distinguished name: usually a single attribute. */
export type Rdn = readonly NameAttribute[];

export interface CertificateFields {
  readonly subject: readonly Rdn[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Undefined when the certificate has no extendedKeyUsage extension. */
  readonly extKeyUsage: readonly string[] | undefined;
}

/** A DER Name (SEQUENCE OF RDN) as ordered RDNs; certificates and CSR subjects share the syntax. */
export function parseName(node: DerNode): Rdn[] {
  return childrenOf(node, 'Name').map((set) =>
    childrenOf(expectTag(set, TAG.set, 'RDN'), 'RDN').map((atv) => {
      const [type, value] = childrenOf(expectTag(atv, TAG.sequence, 'attribute'), 'attribute');
      if (value === undefined) throw new DerError('attribute: no value');
      return { type: decodeOid(expectTag(type, TAG.oid, 'attribute type')), value: decodeString(value) };
    }),
  );
}

function parseExtKeyUsage(extensions: DerNode): string[] | undefined {
  // [3] EXPLICIT Extensions ::= SEQUENCE OF Extension
  const [list] = childrenOf(extensions, 'extensions');
  for (const ext of childrenOf(expectTag(list, TAG.sequence, 'Extensions'), 'Extensions')) {
    const parts = childrenOf(expectTag(ext, TAG.sequence, 'Extension'), 'Extension');
    if (decodeOid(expectTag(parts[0], TAG.oid, 'extnID')) !== OID.extKeyUsage) continue;
    const value = expectTag(parts[parts.length - 1], TAG.octetString, 'extnValue');
    const syntax = expectTag(parseDer(value.content, 'ExtKeyUsageSyntax'), TAG.sequence, 'ExtKeyUsageSyntax');
    return childrenOf(syntax, 'ExtKeyUsageSyntax').map((oid) => decodeOid(oid, 'KeyPurposeId'));
  }
  return undefined;
}

export function certificateFields(der: Buffer): CertificateFields {
  const certificate = expectTag(parseDer(der, 'certificate'), TAG.sequence, 'certificate');
  const [tbs] = childrenOf(certificate, 'certificate');
  const fields = childrenOf(expectTag(tbs, TAG.sequence, 'tbsCertificate'), 'tbsCertificate');
  // version [0] is optional (absent means v1); everything after it is positional.
  const base = fields[0]?.tag === 0xa0 ? 1 : 0;
  const validity = childrenOf(expectTag(fields[base + 3], TAG.sequence, 'validity'), 'validity');
  const subject = parseName(expectTag(fields[base + 4], TAG.sequence, 'subject'));
  const extensions = fields.slice(base + 6).find((f) => f.tag === 0xa3);
  const [notBefore, notAfter] = validity;
  if (notBefore === undefined || notAfter === undefined) throw new DerError('validity: incomplete');
  return {
    subject,
    notBefore: decodeTime(notBefore),
    notAfter: decodeTime(notAfter),
    extKeyUsage: extensions === undefined ? undefined : parseExtKeyUsage(extensions),
  };
}

const SHORT_NAMES: Readonly<Record<string, string>> = {
  [OID.commonName]: 'CN',
  [OID.organization]: 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
};

/** For messages only: "O=system:nodes, CN=system:node:n1" (never compare these strings). */
export function formatSubject(subject: readonly Rdn[]): string {
  if (subject.length === 0) return '(empty)';
  return subject
    .map((rdn) => rdn.map((a) => `${SHORT_NAMES[a.type] ?? a.type}=${a.value ?? '(undecoded)'}`).join(' + '))
    .join(', ');
}

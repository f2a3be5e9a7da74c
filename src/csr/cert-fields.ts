/**
 * The certificate fields the identity code decides on and Node 20's X509Certificate does not
 * give structurally: the subject as ordered RDNs, validity as Dates, extended key usages.
 * Input is DER that OpenSSL has already accepted (X509Certificate.raw).
 */
import { AttestorError } from '../errors.js';
import { TAG, childrenOf, decodeOid, decodeString, decodeTime, expectTag, parseDer } from './der.js';
import type { DerNode } from './der.js';

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

function parseName(node: DerNode): Rdn[] {
  expectTag(node, TAG.sequence, 'a Name');
  return childrenOf(node).map((set) =>
    childrenOf(expectTag(set, TAG.set, 'an RDN')).map((atv) => {
      const [type, value] = childrenOf(expectTag(atv, TAG.sequence, 'an attribute'));
      if (value === undefined) throw new AttestorError('ERR_INPUT', 'malformed DER: attribute without value');
      return { type: decodeOid(expectTag(type, TAG.oid, 'an attribute type')), value: decodeString(value) };
    }),
  );
}

function parseExtKeyUsage(extensions: DerNode): string[] | undefined {
  // [3] EXPLICIT Extensions ::= SEQUENCE OF Extension
  const [list] = childrenOf(extensions);
  for (const ext of childrenOf(expectTag(list, TAG.sequence, 'Extensions'))) {
    const parts = childrenOf(expectTag(ext, TAG.sequence, 'an Extension'));
    if (decodeOid(expectTag(parts[0], TAG.oid, 'an extension id')) !== OID.extKeyUsage) continue;
    const value = expectTag(parts[parts.length - 1], TAG.octetString, 'an extension value');
    return childrenOf(expectTag(parseDer(value.content), TAG.sequence, 'ExtKeyUsageSyntax')).map(decodeOid);
  }
  return undefined;
}

export function certificateFields(der: Buffer): CertificateFields {
  const [tbs] = childrenOf(expectTag(parseDer(der), TAG.sequence, 'a Certificate'));
  const fields = childrenOf(expectTag(tbs, TAG.sequence, 'a TBSCertificate'));
  // version [0] is optional (absent means v1); everything after it is positional.
  const base = fields[0]?.tag === 0xa0 ? 1 : 0;
  const validity = childrenOf(expectTag(fields[base + 3], TAG.sequence, 'Validity'));
  const subject = parseName(expectTag(fields[base + 4], TAG.sequence, 'a subject Name'));
  const extensions = fields.slice(base + 6).find((f) => f.tag === 0xa3);
  const [notBefore, notAfter] = validity;
  if (notBefore === undefined || notAfter === undefined)
    throw new AttestorError('ERR_INPUT', 'malformed DER: incomplete Validity');
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

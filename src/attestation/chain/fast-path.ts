/**
 * The certificate fields certificate.ts would read with @peculiar/x509 (subject RDNs, the
 * extensions the checks use), taken from the one strict reader (src/x509/certificate-reader.ts)
 * instead. @peculiar/x509's ASN.1 stack costs about 3 ms per certificate, most of the server
 * plugin's time per attestation; the strict reader costs tens of microseconds.
 *
 * It is a fast path, not a second opinion: it answers only for a certificate the reader found
 * canonical, no larger than MAX_FAST_BYTES (far below asn1js's node and depth limits, so they
 * cannot trip), and with no extension @peculiar/x509 types that the reader does not decode (a
 * subjectAltName, certificate policies, CRL distribution points, authority information access,
 * issuer alternative name take the @peculiar/x509 path). For anything else it returns undefined
 * and certificate.ts uses @peculiar/x509 as before. So every result, and every refusal, is the
 * one @peculiar/x509 gives (a differential test compares both on generated certificates).
 */
import type { CertificateDer } from '../../x509/certificate-reader.js';
import { DerError } from '../../x509/der.js';
import { DECODED_EXTENSIONS, extensionFacts } from '../../x509/extensions.js';
import type { Rdn } from '../../x509/name.js';
import type { ReadFields, SubjectAttribute } from './certificate-facts.js';

/** Larger certificates take the @peculiar/x509 path (a kubelet client certificate is < 1 KiB). */
export const MAX_FAST_BYTES = 8000;

/**
 * The fields of `read` (the reader's view of `der`) as @peculiar/x509 would give them, or
 * undefined when that is not certain. `typedByPeculiar(oid)` says whether @peculiar/x509 parses
 * the value of that extension type.
 */
export function fastFields(
  der: Uint8Array,
  read: CertificateDer,
  typedByPeculiar: (oid: string) => boolean,
): ReadFields | undefined {
  const { fields } = read;
  if (der.length > MAX_FAST_BYTES || fields instanceof DerError || !fields.canonical) return undefined;
  for (const type of fields.extensionTypes)
    if (!DECODED_EXTENSIONS.has(type) && typedByPeculiar(type)) return undefined;
  const subjectRdns: (readonly SubjectAttribute[])[] = [];
  for (const rdn of fields.subject) {
    const grouped = groupRdn(rdn);
    if (grouped === undefined) return undefined;
    subjectRdns.push(grouped);
  }
  return { subjectRdns, ...extensionFacts(fields) };
}

/**
 * An RDN as certificate.ts builds it from @peculiar/x509's Name.toJSON(): the attributes grouped
 * by type, in order of each type's first appearance. Undefined for a value that is not text (a
 * canonical subject has none).
 */
function groupRdn(rdn: Rdn): readonly SubjectAttribute[] | undefined {
  if (rdn.some((a) => a.value === undefined)) return undefined;
  const text = rdn as readonly SubjectAttribute[];
  // Nearly every RDN has one attribute: nothing to group.
  if (text.length === 1) return text;
  const byType = new Map<string, string[]>();
  for (const { type, value } of text) {
    const list = byType.get(type);
    if (list === undefined) byType.set(type, [value]);
    else list.push(value);
  }
  return [...byType].flatMap(([type, values]) => values.map((value) => ({ type, value })));
}

/**
 * A certificate's extensions as OID, critical flag and value bytes, and the URIs of a
 * subjectAltName value: what the pod-certificate profile reads beyond the shared reader's facts
 * (which only says whether a subjectAltName is there).
 */
import { DerError, TAG, childrenOf, decodeOid, expectTag, parseDer, type DerNode } from '../x509/der.js';

export interface RawExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Buffer;
}

/** Every extension of a DER certificate, in order (a DerError when the framing is not DER). */
export function rawExtensions(certDer: Buffer): RawExtension[] {
  const [tbs] = childrenOf(expectTag(parseDer(certDer, 'Certificate'), TAG.sequence, 'Certificate'));
  const tbsParts = childrenOf(expectTag(tbs, TAG.sequence, 'TBSCertificate'), 'TBSCertificate');
  const wrapper = tbsParts.find((p) => p.tag === 0xa3);
  if (wrapper === undefined) return [];
  const [list] = childrenOf(wrapper, 'extensions');
  return childrenOf(expectTag(list, TAG.sequence, 'Extensions'), 'Extensions').map((ext: DerNode) => {
    const p = childrenOf(expectTag(ext, TAG.sequence, 'Extension'), 'Extension');
    const [id] = p;
    if (id === undefined || p.length < 2 || p.length > 3)
      throw new DerError('Extension: expected 2 or 3 elements');
    const critical = p.length === 3 && p[1]?.tag === TAG.boolean && p[1].content[0] === 0xff;
    const value = expectTag(p[p.length - 1], TAG.octetString, 'extnValue').content;
    return { oid: decodeOid(id, 'extnID'), critical, value };
  });
}

/** [6] uniformResourceIdentifier, IMPLICIT IA5String. */
const URI_TAG = 0x86;

/** The general names of a subjectAltName value: URIs, and how many names of other kinds. */
export function subjectAltNames(value: Buffer): { uris: string[]; others: number } {
  const names = childrenOf(
    expectTag(parseDer(value, 'subjectAltName'), TAG.sequence, 'GeneralNames'),
    'GeneralNames',
  );
  const uris: string[] = [];
  let others = 0;
  for (const n of names) {
    if (n.tag !== URI_TAG) others++;
    else if (n.content.every((b) => b < 0x80)) uris.push(n.content.toString('latin1'));
    else throw new DerError('subjectAltName: a URI that is not IA5String');
  }
  return { uris, others };
}

/**
 * The pod identity a `node-attestor signer` certificate carries, in one private, non-critical
 * X.509 extension (docs/pod-certificates.md, "The certificate"). Why an extension and not a URI
 * SAN: a URI SAN is what TLS stacks and SPIFFE libraries read as the peer's identity, so a
 * `spiffe://` URI from a CA that is not SPIRE's would look like an SVID to anything that trusts
 * the signer's CA; an extension under our own OID is read by nothing but the k8s_pod_cert server
 * plugin, holds each fact as its own typed field (no escaping of names or UIDs), and other tools
 * show it as an unknown extension and ignore it (non-critical).
 *
 *   PodIdentity ::= SEQUENCE {
 *     version             INTEGER (1),
 *     signerName          UTF8String,
 *     nodeName            UTF8String,
 *     nodeUID             UTF8String,
 *     namespace           UTF8String,
 *     podName             UTF8String,
 *     podUID              UTF8String,
 *     serviceAccountName  UTF8String,
 *     serviceAccountUID   UTF8String }
 *
 * The OID is a UUID arc under 2.25 (ITU-T X.667): unique without registration.
 */
import { AttestorError } from '../errors.js';
import { DerError, TAG, childrenOf, decodeOid, expectTag, parseDer, type DerNode } from '../x509/der.js';
import { sequence, smallInteger, tlv } from '../x509/der-write.js';

export const POD_IDENTITY_OID = '2.25.300237969989396184355817823504244419560';
/** The fixed subject CN of every pod certificate (the facts are in the extension). */
export const POD_CERT_CN = 'node-attestor pod certificate';
export const POD_IDENTITY_VERSION = 1;

export interface PodIdentity {
  readonly signerName: string;
  readonly nodeName: string;
  readonly nodeUID: string;
  readonly namespace: string;
  readonly podName: string;
  readonly podUID: string;
  readonly serviceAccountName: string;
  readonly serviceAccountUID: string;
}

const FIELDS = [
  'signerName',
  'nodeName',
  'nodeUID',
  'namespace',
  'podName',
  'podUID',
  'serviceAccountName',
  'serviceAccountUID',
] as const satisfies readonly (keyof PodIdentity)[];

/** The longest value of any field: Kubernetes names are at most 253 characters, UIDs shorter. */
const MAX_FIELD_BYTES = 253;

/** The extension's value (the DER of PodIdentity). */
export function encodePodIdentity(id: PodIdentity): Buffer {
  return sequence(
    smallInteger(POD_IDENTITY_VERSION),
    ...FIELDS.map((f) => tlv(TAG.utf8String, Buffer.from(id[f], 'utf8'))),
  );
}

/** Decodes the extension's value; a DerError (ERR_INPUT) names what is wrong. */
export function decodePodIdentity(value: Buffer): PodIdentity {
  const parts = childrenOf(expectTag(parseDer(value, 'PodIdentity'), TAG.sequence, 'PodIdentity'));
  const [version, ...strings] = parts;
  const v = expectTag(version, TAG.integer, 'PodIdentity version');
  if (v.content.length !== 1 || v.content[0] !== POD_IDENTITY_VERSION)
    throw new DerError(`PodIdentity: version is not ${String(POD_IDENTITY_VERSION)}`);
  if (strings.length !== FIELDS.length)
    throw new DerError(`PodIdentity: ${String(strings.length)} fields, expected ${String(FIELDS.length)}`);
  const out: Record<string, string> = {};
  FIELDS.forEach((name, i) => {
    const node = expectTag(strings[i], TAG.utf8String, `PodIdentity ${name}`);
    const text = node.content.toString('utf8');
    if (
      node.content.length === 0 ||
      node.content.length > MAX_FIELD_BYTES ||
      !Buffer.from(text).equals(node.content)
    )
      throw new DerError(`PodIdentity ${name}: empty, too long or not UTF-8`);
    out[name] = text;
  });
  return out as unknown as PodIdentity;
}

/** One extension of a certificate: its OID, critical flag and value. */
interface RawExtension {
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
    const oid = decodeOid(p[0] ?? { tag: 0, content: Buffer.alloc(0) }, 'extnID');
    const critical = p.length === 3 && p[1]?.tag === TAG.boolean && p[1].content[0] === 0xff;
    const value = expectTag(p[p.length - 1], TAG.octetString, 'extnValue').content;
    return { oid, critical, value };
  });
}

/** The pod identity of a certificate; ERR_PROFILE when it has none or an unreadable one. */
export function podIdentityOf(certDer: Buffer): PodIdentity {
  let found: RawExtension[];
  try {
    found = rawExtensions(certDer).filter((e) => e.oid === POD_IDENTITY_OID);
  } catch (err) {
    throw new AttestorError(
      'ERR_PROFILE',
      `the certificate's extensions do not read as DER: ${String(err)}`,
      {
        details: { check: 'pod-identity' },
      },
    );
  }
  const [ext, second] = found;
  if (ext === undefined || second !== undefined)
    throw new AttestorError(
      'ERR_PROFILE',
      'the certificate does not carry exactly one node-attestor pod identity extension: it was not issued by node-attestor signer',
      { details: { check: 'pod-identity' } },
    );
  try {
    return decodePodIdentity(ext.value);
  } catch (err) {
    throw new AttestorError(
      'ERR_PROFILE',
      `the pod identity extension is malformed: ${err instanceof Error ? err.message : String(err)}`,
      { details: { check: 'pod-identity' } },
    );
  }
}

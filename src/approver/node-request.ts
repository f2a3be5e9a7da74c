/**
 * Is a CSR exactly a kubelet client request? The same shape kube-controller-manager's nodeclient
 * recogniser checks (one O=system:nodes, CN=system:node:<name>, the usage sets), made stricter
 * where a kubelet never differs: a valid node name, no extensions at all (kubelets send none, so
 * no SANs can hide in one), no attributes but an empty extension request.
 *
 * The API server has already verified the request's self-signature at create time (422
 * otherwise) and spec is immutable, so the signature is not checked again here.
 */
import { NODE_CLIENT_SIGNER, nodeNameFromSubject, nodeNameProblem } from '../csr/profile.js';
import type { CsrObject } from '../kube/csr-api.js';
import { decodeStdBase64 } from '../util/base64.js';
import { DerError, TAG, childrenOf, decodeOid, expectTag, parseDer } from '../x509/der.js';
import { formatLimit, MAX_CSR_REQUEST_BYTES } from '../x509/limits.js';
import { formatSubject, parseName, type Rdn } from '../x509/name.js';
import { readPemBlocks } from '../x509/pem.js';

/** PKCS#9 extensionRequest: the one attribute a request without extensions may still carry (empty). */
const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

/** The usage sets the nodeclient recogniser accepts (set equality). */
const USAGE_SETS: readonly (readonly string[])[] = [
  ['client auth', 'digital signature'],
  ['client auth', 'digital signature', 'key encipherment'],
];

export type RequestCheck =
  { readonly ok: true; readonly nodeName: string } | { readonly ok: false; readonly problem: string };

const bad = (problem: string): RequestCheck => ({ ok: false, problem });

function usagesProblem(usages: readonly string[]): string | undefined {
  const got = [...new Set(usages)].sort();
  if (got.length === usages.length && USAGE_SETS.some((s) => s.join('\n') === got.join('\n')))
    return undefined;
  return `usages ${JSON.stringify(usages)} are not {digital signature, client auth} (+ key encipherment)`;
}

/**
 * The DER of the one `CERTIFICATE REQUEST` PEM block that spec.request (base64 of PEM text) must
 * hold. The size comes first: the API server accepts objects of ~1.5 MB, and nothing of that
 * size can be a kubelet's request.
 */
function requestDer(request: string): Buffer | string {
  const size = Buffer.byteLength(request, 'utf8');
  if (size > MAX_CSR_REQUEST_BYTES)
    return `spec.request is ${size} bytes; the limit is ${formatLimit(MAX_CSR_REQUEST_BYTES)} (a node client request is under 3 KiB)`;
  const pemBytes = decodeStdBase64(request);
  if (pemBytes === undefined || pemBytes.length === 0) return 'spec.request is not base64';
  const blocks = readPemBlocks(pemBytes);
  if (!blocks.ok || blocks.value.length !== 1 || blocks.value[0]?.label !== 'CERTIFICATE REQUEST')
    return 'spec.request is not exactly one PEM CERTIFICATE REQUEST block';
  const der = decodeStdBase64(blocks.value[0].body.replace(/\s+/g, ''));
  return der === undefined || der.length === 0 ? 'spec.request: the PEM body is not base64' : der;
}

interface RequestContents {
  readonly subject: Rdn[];
  /** Attribute types other than extensionRequest. */
  readonly otherAttributes: string[];
  /** extnIDs from an extensionRequest attribute. */
  readonly extensions: string[];
}

/**
 * Subject, attributes and requested extensions of a CertificationRequest (RFC 2986), read with
 * the strict DER reader (exact RDN structure). The signature is not checked: see the header.
 */
function requestContents(der: Buffer): RequestContents {
  const req = expectTag(parseDer(der, 'CertificationRequest'), TAG.sequence, 'CertificationRequest');
  const [info] = childrenOf(req, 'CertificationRequest');
  const fields = childrenOf(expectTag(info, TAG.sequence, 'certificationRequestInfo'), 'info');
  const subject = parseName(expectTag(fields[1], TAG.sequence, 'subject'), 'subject');
  expectTag(fields[2], TAG.sequence, 'subjectPKInfo');
  const otherAttributes: string[] = [];
  const extensions: string[] = [];
  for (const attr of childrenOf(expectTag(fields[3], 0xa0, 'attributes'), 'attributes')) {
    const [type, values] = childrenOf(expectTag(attr, TAG.sequence, 'attribute'), 'attribute');
    const typeOid = decodeOid(expectTag(type, TAG.oid, 'attribute type'));
    const valueList = childrenOf(expectTag(values, TAG.set, 'attribute values'), 'attribute values');
    if (typeOid !== EXTENSION_REQUEST) {
      otherAttributes.push(typeOid);
      continue;
    }
    for (const list of valueList)
      for (const ext of childrenOf(expectTag(list, TAG.sequence, 'Extensions'), 'Extensions')) {
        const [id] = childrenOf(expectTag(ext, TAG.sequence, 'Extension'), 'Extension');
        extensions.push(decodeOid(expectTag(id, TAG.oid, 'extnID')));
      }
  }
  return { subject, otherAttributes, extensions };
}

export function inspectNodeClientRequest(csr: CsrObject): RequestCheck {
  if (csr.spec.signerName !== NODE_CLIENT_SIGNER)
    return bad(`signer ${csr.spec.signerName} is not ${NODE_CLIENT_SIGNER}`);
  const usages = usagesProblem(csr.spec.usages);
  if (usages !== undefined) return bad(usages);
  const der = requestDer(csr.spec.request);
  if (typeof der === 'string') return bad(der);

  let contents: RequestContents;
  try {
    contents = requestContents(der);
  } catch (err) {
    if (!(err instanceof DerError)) throw err;
    return bad(`spec.request cannot be parsed: ${err.problem}`);
  }
  const { subject, otherAttributes, extensions } = contents;
  if (otherAttributes.length > 0)
    return bad(`the request carries attributes a kubelet never sends: ${otherAttributes.join(', ')}`);
  if (extensions.length > 0)
    return bad(
      `the request carries extensions a kubelet never sends (${extensions.join(', ')}); node client requests have no SANs or other extensions`,
    );
  const nodeName = nodeNameFromSubject(subject);
  if (nodeName === undefined)
    return bad(`subject ${formatSubject(subject)} is not exactly O=system:nodes, CN=system:node:<node name>`);
  const nameProblem = nodeNameProblem(nodeName);
  if (nameProblem !== undefined)
    return bad(`CN names ${JSON.stringify(nodeName)}, which is not a valid node name: ${nameProblem}`);
  return { ok: true, nodeName };
}

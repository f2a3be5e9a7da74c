/**
 * Is a CSR exactly a kubelet client request? The same shape kube-controller-manager's nodeclient
 * recogniser checks (one O=system:nodes, CN=system:node:<name>, the usage sets), made stricter
 * where a kubelet never differs: a valid node name, no extensions at all (kubelets send none, so
 * no SANs can hide in one), no attributes but an empty extension request.
 *
 * The API server has already verified the request's self-signature at create time (422
 * otherwise) and spec is immutable, so the signature is not checked again here.
 */
import { formatSubject, parseName } from '../csr/cert-fields.js';
import { NODE_CLIENT_SIGNER, nodeNameFromSubject, nodeNameProblem } from '../csr/profile.js';
import type { CsrObject } from '../kube/csr-api.js';
import { decodeStdBase64 } from '../util/base64.js';
import { DerError, TAG, childrenOf, expectTag, parseDer } from '../x509/der.js';
import { loadX509 } from '../x509/load-peculiar.js';
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

/** The DER of the one `CERTIFICATE REQUEST` PEM block that spec.request (base64 of PEM text) must hold. */
function requestDer(request: string): Buffer | string {
  const pemBytes = decodeStdBase64(request);
  if (pemBytes === undefined || pemBytes.length === 0) return 'spec.request is not base64';
  const blocks = readPemBlocks(pemBytes.toString('utf8'));
  if (!blocks.ok || blocks.value.length !== 1 || blocks.value[0]?.label !== 'CERTIFICATE REQUEST')
    return 'spec.request is not exactly one PEM CERTIFICATE REQUEST block';
  const der = decodeStdBase64(blocks.value[0].body.replace(/\s+/g, ''));
  return der === undefined || der.length === 0 ? 'spec.request: the PEM body is not base64' : der;
}

/** The subject of a CertificationRequest, read with the strict DER reader (exact RDN structure). */
function requestSubject(der: Buffer): ReturnType<typeof parseName> {
  const req = expectTag(parseDer(der, 'CertificationRequest'), TAG.sequence, 'CertificationRequest');
  const [info] = childrenOf(req, 'CertificationRequest');
  const fields = childrenOf(expectTag(info, TAG.sequence, 'certificationRequestInfo'), 'info');
  return parseName(expectTag(fields[1], TAG.sequence, 'subject'));
}

export async function inspectNodeClientRequest(csr: CsrObject): Promise<RequestCheck> {
  if (csr.spec.signerName !== NODE_CLIENT_SIGNER)
    return bad(`signer ${csr.spec.signerName} is not ${NODE_CLIENT_SIGNER}`);
  const usages = usagesProblem(csr.spec.usages);
  if (usages !== undefined) return bad(usages);
  const der = requestDer(csr.spec.request);
  if (typeof der === 'string') return bad(der);

  const x509 = await loadX509();
  let parsed: InstanceType<typeof x509.Pkcs10CertificateRequest>;
  let subject: ReturnType<typeof parseName>;
  try {
    parsed = new x509.Pkcs10CertificateRequest(der);
    subject = requestSubject(der);
  } catch (err) {
    const why = err instanceof DerError ? err.problem : 'not a PKCS#10 request';
    return bad(`spec.request cannot be parsed: ${why}`);
  }
  const otherAttributes = parsed.attributes.filter((a) => a.type !== EXTENSION_REQUEST).map((a) => a.type);
  if (otherAttributes.length > 0)
    return bad(`the request carries attributes a kubelet never sends: ${otherAttributes.join(', ')}`);
  if (parsed.extensions.length > 0)
    return bad(
      `the request carries extensions a kubelet never sends (${parsed.extensions.map((e) => e.type).join(', ')}); node client requests have no SANs or other extensions`,
    );
  const nodeName = nodeNameFromSubject(subject);
  if (nodeName === undefined)
    return bad(`subject ${formatSubject(subject)} is not exactly O=system:nodes, CN=system:node:<node name>`);
  const nameProblem = nodeNameProblem(nodeName);
  if (nameProblem !== undefined)
    return bad(`CN names ${JSON.stringify(nodeName)}, which is not a valid node name: ${nameProblem}`);
  return { ok: true, nodeName };
}

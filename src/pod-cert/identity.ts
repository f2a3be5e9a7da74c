/**
 * The pod identity a `node-attestor signer` certificate carries: one URI subjectAltName, a URN
 * of our own (docs/pod-certificates.md, "The certificate"):
 *
 *   urn:node-attestor:pod-cert:v1:<signerName>:<nodeName>:<nodeUID>:<namespace>:<podName>:<podUID>:<serviceAccountName>:<serviceAccountUID>
 *
 * each field percent-encoded (encodeURIComponent), so ':' and '/' never appear inside one. Why a
 * URN and not a private extension: Go's crypto/x509, which the API server uses to validate the
 * issued chain, refuses extension OIDs with an arc beyond 2^31, and the only registration-free
 * OIDs (UUID arcs under 2.25) are 128-bit; a URI SAN every X.509 tool reads and prints. Why not
 * spiffe://: a SPIFFE ID in a certificate from a CA that is not SPIRE's would look like an SVID to
 * anything that trusts this CA; a urn: URI is no SPIFFE ID, so SPIFFE libraries refuse it.
 */
import { AttestorError } from '../errors.js';

export const POD_IDENTITY_URN = 'urn:node-attestor:pod-cert:v1:';
/** The fixed subject CN of every pod certificate (the facts are in the URI). */
export const POD_CERT_CN = 'node-attestor pod certificate';

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

/** Kubernetes names are at most 253 characters, signer names 571. */
const MAX_FIELD_LENGTH = 571;

export function encodePodIdentity(id: PodIdentity): string {
  return POD_IDENTITY_URN + FIELDS.map((f) => encodeURIComponent(id[f])).join(':');
}

/** Decodes the URI; ERR_PROFILE naming what is wrong. */
export function decodePodIdentity(uri: string): PodIdentity {
  const bad = (problem: string): AttestorError =>
    new AttestorError('ERR_PROFILE', `the pod identity URI ${JSON.stringify(uri.slice(0, 200))} ${problem}`, {
      details: { check: 'pod-identity' },
    });
  if (!uri.startsWith(POD_IDENTITY_URN)) throw bad(`does not start with ${POD_IDENTITY_URN}`);
  const parts = uri.slice(POD_IDENTITY_URN.length).split(':');
  if (parts.length !== FIELDS.length)
    throw bad(`has ${String(parts.length)} fields, not ${String(FIELDS.length)}`);
  const out: Record<string, string> = {};
  FIELDS.forEach((name, i) => {
    const raw = parts[i] ?? '';
    let value: string;
    try {
      value = decodeURIComponent(raw);
    } catch {
      throw bad(`has a ${name} that is not percent-encoded UTF-8`);
    }
    // One spelling per identity: what we encode, nothing else.
    if (value === '' || value.length > MAX_FIELD_LENGTH || encodeURIComponent(value) !== raw)
      throw bad(`has an empty, overlong or non-canonical ${name}`);
    out[name] = value;
  });
  return out as unknown as PodIdentity;
}

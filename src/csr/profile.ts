/**
 * The Kubernetes node client certificate profile: what the kube-apiserver-client-kubelet signer
 * issues and what kube-controller-manager's csrapproving "nodeclient" recogniser accepts. The
 * CLI builds requests to it and the server plugin checks certificates against it, so both use
 * these definitions.
 */
import { AttestorError } from '../errors.js';
import type { Rdn } from '../x509/name.js';
import { OID } from '../x509/oids.js';

export const NODE_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client-kubelet';
export const NODE_ORGANIZATION = 'system:nodes';
export const NODE_CN_PREFIX = 'system:node:';
/** Extended key usage id-kp-clientAuth, which every node client certificate carries. */
export const CLIENT_AUTH_EKU = OID.clientAuth;

/** The usages the nodeclient recogniser accepts: key encipherment only makes sense for RSA. */
export function nodeClientUsages(rsa: boolean): string[] {
  return rsa
    ? ['digital signature', 'key encipherment', 'client auth']
    : ['digital signature', 'client auth'];
}

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_LABEL}(\\.${DNS1123_LABEL})*$`);

/**
 * Why a name is not a valid Kubernetes Node name (a DNS-1123 subdomain, as the API server
 * validates Node objects), or undefined when it is. A valid node name is also a valid SPIFFE ID
 * path segment, which the agent ID relies on.
 */
export function nodeNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > 253) return 'must be at most 253 characters';
  if (!DNS1123_SUBDOMAIN.test(name))
    return "must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (a DNS-1123 subdomain)";
  return undefined;
}

/** Returns the name, or throws ERR_USAGE naming `input` (e.g. "-agent-name"). */
export function validateNodeName(name: string, input: string): string {
  const problem = nodeNameProblem(name);
  if (problem !== undefined)
    throw new AttestorError(
      'ERR_USAGE',
      `${input} ${JSON.stringify(name)} is not a valid node name: ${problem}`,
      {
        details: { input },
      },
    );
  return name;
}

/** The default node name: the host name, lower-cased as the kubelet does. */
export function defaultNodeName(hostname: string): string {
  return hostname.trim().toLowerCase();
}

/** The node client certificate subject in the order Go encodes it: O first, then CN. */
export function nodeCommonName(nodeName: string): string {
  return `${NODE_CN_PREFIX}${nodeName}`;
}

/**
 * The node name a certificate subject names, when the subject is exactly O=system:nodes then
 * CN=system:node:<name> (one attribute per RDN, nothing else); otherwise undefined. The signer
 * re-encodes the subject in this order, so anything else was not issued for our request.
 */
export function nodeNameFromSubject(subject: readonly Rdn[]): string | undefined {
  if (subject.length !== 2) return undefined;
  const [o, cn] = subject;
  if (o?.length !== 1 || cn?.length !== 1) return undefined;
  const [oAttr] = o;
  const [cnAttr] = cn;
  if (oAttr?.type !== OID.organization || oAttr.value !== NODE_ORGANIZATION) return undefined;
  if (cnAttr?.type !== OID.commonName || cnAttr.value?.startsWith(NODE_CN_PREFIX) !== true) return undefined;
  const name = cnAttr.value.slice(NODE_CN_PREFIX.length);
  return name === '' ? undefined : name;
}

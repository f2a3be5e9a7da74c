/**
 * The node-client profile: the leaf must be exactly what the kube-apiserver-client-kubelet signer
 * issues for a kubelet, so that no other certificate the cluster CA signed (an admin's, a
 * controller's, a serving certificate) can attest. This closes the 2018 prototype's gap, which
 * accepted anything that chained to the CA.
 *
 * Key usage follows Kubernetes' nodeclient profile: digitalSignature is required,
 * keyEncipherment is allowed with any key type (kube-controller-manager approves
 * {digital signature, key encipherment, client auth} for ECDSA keys as well, and older kubelets
 * request it), and any other bit (keyCertSign, dataEncipherment, nonRepudiation, …) is refused.
 */
import type { X509Certificate } from 'node:crypto';
import { NODE_CN_PREFIX, NODE_ORGANIZATION, nodeNameProblem } from '../csr/profile.js';
import { AttestorError } from '../errors.js';
import { OID } from '../x509/oids.js';
import { KeyUsage, readCertificate, type SubjectAttribute } from './chain/certificate.js';
import { quote } from './internal/text.js';
import { describeKey, popKind } from './pop-key.js';

export interface NodeClientIdentity {
  /** The node name from CN=system:node:<name>, a valid Kubernetes Node name. */
  readonly nodeName: string;
}

/** Which rule failed, in details.check of the ERR_PROFILE error. */
export type ProfileCheck = 'subject' | 'ca' | 'eku' | 'key-usage' | 'san' | 'key-type';

const KEY_USAGE_NAMES: readonly (readonly [number, string])[] = [
  [KeyUsage.digitalSignature, 'digitalSignature'],
  [KeyUsage.nonRepudiation, 'nonRepudiation'],
  [KeyUsage.keyEncipherment, 'keyEncipherment'],
  [KeyUsage.dataEncipherment, 'dataEncipherment'],
  [KeyUsage.keyAgreement, 'keyAgreement'],
  [KeyUsage.keyCertSign, 'keyCertSign'],
  [KeyUsage.cRLSign, 'cRLSign'],
  [KeyUsage.encipherOnly, 'encipherOnly'],
  [KeyUsage.decipherOnly, 'decipherOnly'],
];

/** What the nodeclient profile may carry: digitalSignature (required) and keyEncipherment. */
const ALLOWED_KEY_USAGE = KeyUsage.digitalSignature | KeyUsage.keyEncipherment;

const EKU_NAMES: Readonly<Record<string, string>> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '2.5.29.37.0': 'anyExtendedKeyUsage',
};

/** Checks `leaf` against the profile; each failure is ERR_PROFILE naming what is wrong. */
export function checkNodeClientProfile(leaf: X509Certificate): NodeClientIdentity {
  const facts = readCertificate(leaf, 'certificate 0 (the leaf)');

  const nodeName = checkSubject(facts.subjectRdns);

  if (facts.basicConstraints?.ca === true) throw profileError('ca', 'it is a CA certificate');

  const eku = facts.extKeyUsage;
  if (eku === undefined)
    throw profileError('eku', 'it has no extended key usage extension; it must have exactly clientAuth');
  if (eku.length !== 1 || eku[0] !== OID.clientAuth)
    throw profileError(
      'eku',
      `extended key usage is [${eku.map((o) => EKU_NAMES[o] ?? o).join(', ')}]; it must be exactly [clientAuth]`,
    );

  // keyEncipherment is allowed whatever the key type, as Kubernetes' own profile does (see above).
  const usage = facts.keyUsage;
  if (usage === undefined)
    throw profileError('key-usage', 'it has no key usage extension; it must have digitalSignature');
  if ((usage & KeyUsage.digitalSignature) === 0)
    throw profileError('key-usage', `key usage is [${usageNames(usage)}]; it must include digitalSignature`);
  if ((usage & ~ALLOWED_KEY_USAGE) !== 0)
    throw profileError(
      'key-usage',
      `key usage is [${usageNames(usage)}]; only digitalSignature and keyEncipherment are allowed`,
    );

  if (facts.hasSubjectAltName)
    throw profileError('san', 'it has a subjectAltName extension; node client certificates have none');

  if (popKind(facts.publicKey) === undefined)
    throw profileError(
      'key-type',
      `key type not allowed: ${describeKey(facts.publicKey)}; x509pop proof of possession needs RSA or ECDSA`,
    );

  return { nodeName };
}

/** Exactly O=system:nodes and CN=system:node:<node name>, nothing else; returns the node name. */
function checkSubject(rdns: readonly (readonly SubjectAttribute[])[]): string {
  if (rdns.some((rdn) => rdn.length > 1)) throw profileError('subject', 'subject has a multi-valued RDN');
  const attributes = rdns.flat();

  const orgs = attributes.filter((a) => a.type === OID.organization);
  const [org] = orgs;
  if (org === undefined) throw profileError('subject', `subject has no O; it must be O=${NODE_ORGANIZATION}`);
  if (orgs.length > 1)
    throw profileError(
      'subject',
      `subject has ${orgs.length} O attributes (${values(orgs)}); it must have exactly O=${NODE_ORGANIZATION}`,
    );
  if (org.value !== NODE_ORGANIZATION)
    throw profileError('subject', `subject O is ${quote(org.value)}; it must be ${NODE_ORGANIZATION}`);

  const cns = attributes.filter((a) => a.type === OID.commonName);
  const [cn] = cns;
  if (cn === undefined)
    throw profileError('subject', `subject has no CN; it must be CN=${NODE_CN_PREFIX}<node name>`);
  if (cns.length > 1)
    throw profileError(
      'subject',
      `subject has ${cns.length} CN attributes (${values(cns)}); it must have one`,
    );
  if (!cn.value.startsWith(NODE_CN_PREFIX))
    throw profileError('subject', `subject CN ${quote(cn.value)} does not start with ${NODE_CN_PREFIX}`);
  const nodeName = cn.value.slice(NODE_CN_PREFIX.length);
  const problem = nodeNameProblem(nodeName);
  if (problem !== undefined)
    throw profileError(
      'subject',
      `subject CN ${quote(cn.value)} does not name a valid node: the node name ${problem}`,
    );

  const others = attributes.filter((a) => a.type !== OID.organization && a.type !== OID.commonName);
  if (others.length > 0)
    throw profileError(
      'subject',
      `subject has attributes other than O and CN: ${others.map((a) => `${a.type}=${quote(a.value)}`).join(', ')}`,
    );
  return nodeName;
}

function profileError(check: ProfileCheck, problem: string): AttestorError {
  return new AttestorError(
    'ERR_PROFILE',
    `leaf certificate is not a Kubernetes node client certificate: ${problem}`,
    {
      details: { check },
    },
  );
}

function values(attrs: readonly SubjectAttribute[]): string {
  return attrs.map((a) => quote(a.value)).join(', ');
}

function usageNames(bits: number): string {
  return KEY_USAGE_NAMES.filter(([flag]) => (bits & flag) !== 0)
    .map(([, name]) => name)
    .join(', ');
}

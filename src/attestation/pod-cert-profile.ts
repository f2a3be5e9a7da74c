/**
 * The pod-certificate profile the k8s_pod_cert server plugin accepts: exactly what `node-attestor
 * signer` issues (src/signer/issue.ts), so no other certificate of the same CA passes (one the
 * CA's owner made by hand, one for another signer name sharing the CA, a CA certificate):
 *
 *   subject exactly CN=node-attestor pod certificate; not a CA; keyUsage exactly
 *   digitalSignature; extKeyUsage exactly [clientAuth]; a subjectAltName of exactly one name,
 *   the pod identity URI, naming the configured signer and a valid node name; no extension but
 *   basicConstraints, keyUsage, extKeyUsage, subjectAltName and the key identifiers, only the
 *   first two critical; an RSA or ECDSA key (the x509pop proof).
 */
import type { X509Certificate } from 'node:crypto';
import { nodeNameProblem } from '../csr/profile.js';
import { AttestorError } from '../errors.js';
import { KeyUsage, readCertificate } from './chain/certificate.js';
import { describeKey, popKind } from './pop-key.js';
import type { LeafIdentity } from './verify-attestation.js';
import { ATTRIBUTE_TYPES, OID } from '../x509/oids.js';
import { POD_CERT_CN, decodePodIdentity } from '../pod-cert/identity.js';
import { rawExtensions, subjectAltNames } from '../pod-cert/raw-extensions.js';

const ALLOWED_EXTENSIONS = new Set<string>([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.authorityKeyIdentifier,
  OID.subjectKeyIdentifier,
  OID.subjectAltName,
]);
/** Short names for messages (read without @peculiar/x509, which the plugin loads only when needed). */
const NAMES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(ATTRIBUTE_TYPES).map(([name, oid]) => [oid, name]),
);
const ALLOWED_CRITICAL = new Set<string>([OID.basicConstraints, OID.keyUsage]);

const refuse = (check: string, problem: string): AttestorError =>
  new AttestorError('ERR_PROFILE', `the certificate is not a ${POD_CERT_CN}: ${problem}`, {
    details: { check },
  });

/** Checks `leaf` against the profile for `signerName`; returns the node name and pod identity. */
export function checkPodCertProfile(leaf: X509Certificate, signerName: string): LeafIdentity {
  const facts = readCertificate(leaf, 'certificate 0 (the leaf)');
  const attributes = facts.subjectRdns.flat();
  const [cn] = attributes;
  if (attributes.length !== 1 || cn?.type !== OID.commonName || cn.value !== POD_CERT_CN)
    throw refuse(
      'subject',
      `subject is ${JSON.stringify(attributes.map((x) => `${NAMES[x.type] ?? x.type}=${x.value}`).join(', '))}, not exactly CN=${POD_CERT_CN}`,
    );
  if (facts.basicConstraints?.ca !== false)
    throw refuse('ca', 'it is a CA certificate or lacks basicConstraints CA:false');
  if (facts.keyUsage !== KeyUsage.digitalSignature)
    throw refuse('key-usage', 'key usage is not exactly digitalSignature');
  const eku = facts.extKeyUsage;
  if (eku?.length !== 1 || eku[0] !== OID.clientAuth)
    throw refuse('eku', 'extended key usage is not exactly [clientAuth]');
  let types: ReturnType<typeof rawExtensions>;
  let sans: ReturnType<typeof subjectAltNames> | undefined;
  try {
    types = rawExtensions(facts.der);
    const san = types.find((e) => e.oid === OID.subjectAltName);
    sans = san === undefined ? undefined : subjectAltNames(san.value);
  } catch (err) {
    throw refuse(
      'extensions',
      `its extensions do not read: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const extra = types.filter((e) => !ALLOWED_EXTENSIONS.has(e.oid)).map((e) => e.oid);
  if (extra.length > 0)
    throw refuse('extensions', `it has extensions outside the profile: ${extra.join(', ')}`);
  const critical = types.filter((e) => e.critical && !ALLOWED_CRITICAL.has(e.oid)).map((e) => e.oid);
  if (critical.length > 0)
    throw refuse('extensions', `extensions marked critical outside the profile: ${critical.join(', ')}`);
  const [uri] = sans?.uris ?? [];
  if (uri === undefined || sans?.uris.length !== 1 || sans.others !== 0)
    throw refuse('san', 'its subjectAltName is not exactly one URI, the pod identity');
  if (popKind(facts.publicKey) === undefined)
    throw refuse(
      'key-type',
      `key type ${describeKey(facts.publicKey)}; x509pop proof of possession needs RSA or ECDSA`,
    );
  const pod = decodePodIdentity(uri);
  if (pod.signerName !== signerName)
    throw refuse('signer', `it was issued for signer ${JSON.stringify(pod.signerName)}, not ${signerName}`);
  const problem = nodeNameProblem(pod.nodeName);
  if (problem !== undefined) throw refuse('node-name', `the node name it names ${problem}`);
  return { nodeName: pod.nodeName, pod };
}

/**
 * Checks the certificate the API server hands back before anything is written: it must certify
 * our key, name exactly our node, be valid now and allow client authentication. The CSR API does
 * not promise that the certificate on a CSR object belongs to the caller's key (a pre-existing or
 * tampered object could carry anyone's), so this is not optional.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import { AttestorError } from '../errors.js';
import { readCertificateFields, type CertificateFields } from '../x509/certificate-reader.js';
import { formatSubject } from '../x509/name.js';
import { spkiDer } from '../csr/keys.js';
import { CLIENT_AUTH_EKU, NODE_ORGANIZATION, nodeCommonName, nodeNameFromSubject } from '../csr/profile.js';
import { parseCertificateChain } from './chain.js';

export interface IssuedCertificate {
  readonly chain: readonly X509Certificate[];
  readonly leaf: X509Certificate;
  readonly fields: CertificateFields;
}

export interface VerifyIssuedOptions {
  /** Our key (private or public half). */
  readonly key: KeyObject;
  readonly nodeName: string;
  readonly now: Date;
  /** For messages. */
  readonly csrName: string;
}

export function verifyIssuedCertificate(chainPem: string, o: VerifyIssuedOptions): IssuedCertificate {
  const mismatch = (problem: string, cause?: unknown): AttestorError =>
    new AttestorError(
      'ERR_CERT_MISMATCH',
      `the certificate issued for CSR ${o.csrName} ${problem}; nothing was written`,
      {
        ...(cause === undefined ? {} : { cause }),
        details: { csrName: o.csrName },
      },
    );
  let chain: [X509Certificate, ...X509Certificate[]];
  let fields: CertificateFields;
  try {
    chain = parseCertificateChain(chainPem);
    fields = readCertificateFields(chain[0].raw);
  } catch (err) {
    throw mismatch(`is not usable (${err instanceof Error ? err.message : String(err)})`, err);
  }
  const [leaf] = chain;
  if (!spkiDer(leaf.publicKey).equals(spkiDer(o.key)))
    throw mismatch('is for a different public key than ours');
  if (nodeNameFromSubject(fields.subject) !== o.nodeName)
    throw mismatch(
      `has subject ${formatSubject(fields.subject)}, not O=${NODE_ORGANIZATION}, CN=${nodeCommonName(o.nodeName)}`,
    );
  const now = o.now.getTime();
  if (now < fields.notBefore.getTime())
    throw mismatch(
      `is not valid before ${fields.notBefore.toISOString()} (is this machine's clock behind the cluster's?)`,
    );
  if (now > fields.notAfter.getTime()) throw mismatch(`expired at ${fields.notAfter.toISOString()}`);
  if (fields.extKeyUsage?.includes(CLIENT_AUTH_EKU) !== true)
    throw mismatch('does not allow client authentication (no clientAuth extended key usage)');
  return { chain, leaf, fields };
}

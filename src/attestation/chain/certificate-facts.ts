/**
 * What a certificate reader gives the chain checks: its own module so certificate.ts (which
 * chooses the reader) and fast-path.ts (one of the readers) both depend on it, not on each other.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import type { ExtensionFacts } from '../../x509/extensions.js';

export interface SubjectAttribute {
  /** Attribute type OID, e.g. 2.5.4.3 for CN. */
  readonly type: string;
  readonly value: string;
}

export interface CertificateFacts extends ExtensionFacts {
  readonly cert: X509Certificate;
  readonly der: Buffer;
  /** Lowercase hex SHA-1 of the DER, x509pop's fingerprint. */
  readonly sha1: string;
  /** Lowercase hex SHA-256 of the DER: identity for de-duplication. */
  readonly sha256: string;
  /** Lowercase, even-length hex serial, as x509pop's SerialNumberHex. */
  readonly serialHex: string;
  readonly rawSubject: Buffer;
  readonly rawIssuer: Buffer;
  /** Subject and issuer as text, for messages only. */
  readonly subject: string;
  readonly issuer: string;
  /** Subject RDNs in order; each inner array is one RDN (more than one entry: multi-valued). */
  readonly subjectRdns: readonly (readonly SubjectAttribute[])[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly signatureAlgorithm: string;
  /** DER of the signature algorithm's parameters element, when present (see certificate-reader.ts). */
  readonly signatureParameters: Buffer | undefined;
  readonly signatureAlgorithmsMatch: boolean;
  readonly publicKey: KeyObject;
}

/** What build() takes from a reader; subject and issuer text only when it had them anyway. */
export type ReadFields = ExtensionFacts &
  Pick<CertificateFacts, 'subjectRdns'> &
  Partial<Pick<CertificateFacts, 'subject' | 'issuer'>>;

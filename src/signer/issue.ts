/**
 * Builds the certificate for an admitted PodCertificateRequest: exactly the profile the
 * k8s_pod_cert server plugin checks (src/attestation/pod-cert-profile.ts), signed by the chosen CA.
 *
 *   subject  CN=node-attestor pod certificate (fixed: the facts are in the URI, where no
 *            64-character CN limit truncates a 253-character pod name)
 *   basicConstraints CA:false (critical), keyUsage digitalSignature (critical),
 *   extKeyUsage clientAuth, authorityKeyIdentifier, subjectAltName: one URI, the pod identity
 *
 * Timing (the API server checks all of it): notBefore = now in whole seconds (it must be within
 * 5 minutes of the API server's clock); notAfter = notBefore + min(-max-expiration,
 * spec.maxExpirationSeconds), and never past the CA's own notAfter; beginRefreshAt at half the
 * lifetime (or -refresh-after from notBefore), kept at least 10 minutes from both ends (the API's
 * rule) so the kubelet has the rest, less its up to 5 minutes of jitter, to renew.
 */
import type { KeyObject } from 'node:crypto';
import { encodePodIdentity, POD_CERT_CN, type PodIdentity } from '../pod-cert/identity.js';
import { TAG } from '../x509/der.js';
import { oid, sequence, tlv } from '../x509/der-write.js';
import { OID } from '../x509/oids.js';
import { encodePem } from '../x509/pem.js';
import type { CaCertificate } from './ca.js';
import { akiExtension, buildCertificate, type ExtensionSpec } from './certificate-builder.js';

/** The API server refuses a shorter certificate (PodCertificateRequest validation). */
export const MIN_LIFETIME_MS = 3_600_000;
/** beginRefreshAt must be at least this far from notBefore and notAfter. */
const REFRESH_MARGIN_MS = 600_000;
/** The fraction of the lifetime after which the kubelet should renew (without -refresh-after). */
const REFRESH_FRACTION = 0.5;
/** The shortest -refresh-after that can take effect (the API's margin from notBefore). */
export const MIN_REFRESH_AFTER_MS = REFRESH_MARGIN_MS;

export interface IssueTimes {
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly beginRefreshAt: Date;
}

/** The validity and refresh time of a certificate issued at `now`; undefined when under an hour. */
export function issueTimes(
  now: Date,
  o: {
    readonly maxLifetimeMs: number;
    readonly requestMaxSeconds: number;
    readonly caNotAfter: Date;
    /** beginRefreshAt this long after notBefore instead of at half the lifetime. */
    readonly refreshAfterMs?: number;
  },
): IssueTimes | undefined {
  const nb = Math.floor(now.getTime() / 1000) * 1000;
  const lifetime = Math.min(o.maxLifetimeMs, o.requestMaxSeconds * 1000);
  const na = Math.min(nb + lifetime, Math.floor(o.caNotAfter.getTime() / 1000) * 1000);
  if (na - nb < MIN_LIFETIME_MS) return undefined;
  const after = o.refreshAfterMs ?? (na - nb) * REFRESH_FRACTION;
  const refresh = Math.min(
    Math.max(nb + Math.floor(after / 1000) * 1000, nb + REFRESH_MARGIN_MS),
    na - REFRESH_MARGIN_MS,
  );
  return { notBefore: new Date(nb), notAfter: new Date(na), beginRefreshAt: new Date(refresh) };
}

/** The extension values of the profile, in order (the pod identity URI last). */
export function podCertExtensions(issuerDer: Buffer, identity: PodIdentity): ExtensionSpec[] {
  return [
    // basicConstraints: an empty SEQUENCE is cA FALSE.
    { oid: OID.basicConstraints, critical: true, value: sequence() },
    // keyUsage: digitalSignature only (bit 0; seven unused bits).
    { oid: OID.keyUsage, critical: true, value: tlv(TAG.bitString, Buffer.from([7, 0x80])) },
    { oid: OID.extKeyUsage, critical: false, value: sequence(oid(OID.clientAuth)) },
    akiExtension(issuerDer),
    // [6] uniformResourceIdentifier; not critical, the subject is not empty.
    {
      oid: OID.subjectAltName,
      critical: false,
      value: sequence(tlv(0x86, Buffer.from(encodePodIdentity(identity), 'latin1'))),
    },
  ];
}

/** The PEM of the issued certificate. */
export function issueCertificate(
  ca: CaCertificate & { readonly key: KeyObject },
  subjectSpki: Buffer,
  identity: PodIdentity,
  times: IssueTimes,
): string {
  const der = buildCertificate({
    issuerDer: ca.cert.raw,
    issuerKey: ca.key,
    subjectSpki,
    subjectCn: POD_CERT_CN,
    notBefore: times.notBefore,
    notAfter: times.notAfter,
    extensions: podCertExtensions(ca.cert.raw, identity),
  });
  return encodePem('CERTIFICATE', der);
}

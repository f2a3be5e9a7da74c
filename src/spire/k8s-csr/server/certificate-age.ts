/**
 * Limits on the node certificate's lifetime and age, so a stolen identity document is useful only
 * briefly even when the cluster's signer issues long-lived certificates. kube-controller-manager
 * back-dates NotBefore by 5 minutes, so a fresh certificate is already 5 minutes "old" and its
 * lifetime is expirationSeconds + 5 minutes.
 */
import { AttestorError } from '../../../errors.js';
import { formatDuration } from '../../../util/duration.js';

export interface CertificateAgePolicy {
  readonly maxLifetimeMs?: number;
  readonly maxAgeMs?: number;
}

export function checkCertificateAge(
  cert: { readonly notBefore: Date; readonly notAfter: Date },
  policy: CertificateAgePolicy,
  cluster: string,
  now: Date,
): void {
  const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
  if (policy.maxLifetimeMs !== undefined && lifetime > policy.maxLifetimeMs)
    throw new AttestorError(
      'ERR_PROFILE',
      `certificate lifetime ${formatDuration(lifetime)} (NotBefore ${cert.notBefore.toISOString()}, NotAfter ${cert.notAfter.toISOString()}) exceeds max_certificate_lifetime ${formatDuration(policy.maxLifetimeMs)} of cluster ${cluster}`,
      { details: { cluster, check: 'max-certificate-lifetime' } },
    );
  const age = now.getTime() - cert.notBefore.getTime();
  if (policy.maxAgeMs !== undefined && age > policy.maxAgeMs)
    throw new AttestorError(
      'ERR_PROFILE',
      `certificate was issued ${formatDuration(age)} ago (NotBefore ${cert.notBefore.toISOString()}), more than max_certificate_age ${formatDuration(policy.maxAgeMs)} of cluster ${cluster}`,
      { details: { cluster, check: 'max-certificate-age' } },
    );
}

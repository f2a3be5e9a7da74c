/**
 * Validity at `now`: inclusive bounds (RFC 5280 §4.1.2.5) widened by a clock-skew allowance on
 * both sides, so a node whose clock runs a little ahead is not refused for a certificate the
 * signer just issued. Dates come from node:crypto's validFrom/validTo.
 */
import type { CertificateFacts } from './certificate.js';
import { describe, type ChainProblem } from './problem.js';

export const DEFAULT_CLOCK_SKEW_SECONDS = 30;

/**
 * `label` names the certificate in the message ("leaf certificate "…""); a function is called
 * only when there is a problem to describe (naming costs more than the check).
 */
export function validityProblem(
  cert: CertificateFacts,
  label: string | (() => string),
  now: Date,
  skewSeconds: number,
): ChainProblem | undefined {
  const skewMs = skewSeconds * 1000;
  const context = (): string => `now ${now.toISOString()}, allowed clock skew ${skewSeconds}s`;
  const name = (): string => (typeof label === 'string' ? label : label());
  if (now.getTime() - skewMs > cert.notAfter.getTime())
    return {
      reason: 'expired',
      message: `${name()} expired at ${cert.notAfter.toISOString()} (${context()})`,
      details: { notAfter: cert.notAfter.toISOString(), now: now.toISOString() },
    };
  if (now.getTime() + skewMs < cert.notBefore.getTime())
    return {
      reason: 'not-yet-valid',
      message: `${name()} is not yet valid: valid from ${cert.notBefore.toISOString()} (${context()})`,
      details: { notBefore: cert.notBefore.toISOString(), now: now.toISOString() },
    };
  return undefined;
}

/** The first certificate of `path` (leaf … trust anchor) not valid at `now`, as a problem. */
export function pathValidityProblem(
  path: readonly CertificateFacts[],
  now: Date,
  skewSeconds: number,
): ChainProblem | undefined {
  for (const [i, cert] of path.entries()) {
    const problem = validityProblem(cert, () => describe(path, i), now, skewSeconds);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * Path BUILDING: every candidate path from the leaf through the given intermediates to a
 * certificate of the trust bundle, by name chaining (raw issuer DER = raw subject DER, as Go
 * matches) and key identifiers when both sides have them. No signature, time or constraint is
 * looked at here; check-path.ts does that. Breadth first, so shorter paths come first and extra
 * intermediates an agent adds can only create longer candidates; bounded in depth and work.
 */
import type { CertificateFacts } from './certificate.js';

export interface BuildLimits {
  /** Most intermediates between the leaf and the trust anchor. */
  readonly maxIntermediates: number;
  /** Stop after this many complete candidate paths. */
  readonly maxPaths: number;
  /** Stop after extending this many partial paths. */
  readonly maxExtensions: number;
}

export const DEFAULT_BUILD_LIMITS: Omit<BuildLimits, 'maxIntermediates'> = {
  maxPaths: 16,
  maxExtensions: 256,
};

export interface BuiltPaths {
  /** Candidate paths, leaf first, trust anchor last; shortest first. */
  readonly paths: readonly (readonly CertificateFacts[])[];
  /** True when a work limit cut the search short. */
  readonly truncated: boolean;
}

export function buildPaths(
  leaf: CertificateFacts,
  intermediates: readonly CertificateFacts[],
  anchors: readonly CertificateFacts[],
  limits: BuildLimits,
): BuiltPaths {
  const anchorIds = new Set(anchors.map((a) => a.sha256));
  // A bundle certificate sent as an intermediate is simply an anchor; duplicates count once.
  const pool = dedupe(intermediates.filter((c) => !anchorIds.has(c.sha256) && c.sha256 !== leaf.sha256));

  const paths: CertificateFacts[][] = [];
  let queue: CertificateFacts[][] = [[leaf]];
  let extensions = 0;
  while (queue.length > 0) {
    const next: CertificateFacts[][] = [];
    for (const partial of queue) {
      if (++extensions > limits.maxExtensions) return { paths, truncated: true };
      const child = partial[partial.length - 1];
      if (child === undefined) continue;
      const used = new Set(partial.map((c) => c.sha256));
      for (const anchor of anchors) {
        if (used.has(anchor.sha256) || !issuedBy(child, anchor)) continue;
        paths.push([...partial, anchor]);
        if (paths.length >= limits.maxPaths) return { paths, truncated: true };
      }
      // partial = leaf + (length - 1) intermediates; only extend while another one is allowed.
      if (partial.length - 1 >= limits.maxIntermediates) continue;
      for (const candidate of pool)
        if (!used.has(candidate.sha256) && issuedBy(child, candidate)) next.push([...partial, candidate]);
    }
    queue = next;
  }
  return { paths, truncated: false };
}

/** Whether `issuer` may have issued `child` by names and key identifiers (not by signature). */
export function issuedBy(child: CertificateFacts, issuer: CertificateFacts): boolean {
  if (!child.rawIssuer.equals(issuer.rawSubject)) return false;
  return (
    child.authorityKeyId === undefined ||
    issuer.subjectKeyId === undefined ||
    child.authorityKeyId === issuer.subjectKeyId
  );
}

function dedupe(certs: readonly CertificateFacts[]): CertificateFacts[] {
  const seen = new Set<string>();
  return certs.filter((c) => !seen.has(c.sha256) && (seen.add(c.sha256), true));
}

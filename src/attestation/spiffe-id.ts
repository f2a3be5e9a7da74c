/**
 * SPIFFE ID syntax rules (go-spiffe v2 `spiffeid`, without its back-compat character sets), and
 * the name rules derived from them for values that become agent ID path segments.
 */

const SEGMENT_CHARS = /^[A-Za-z0-9._-]+$/;
const TRUST_DOMAIN_CHARS = /^[a-z0-9._-]+$/;

/** Why `segment` is not a valid SPIFFE ID path segment, or undefined when it is. */
export function pathSegmentProblem(segment: string): string | undefined {
  if (segment.length === 0) return 'must not be empty';
  if (segment === '.' || segment === '..') return `must not be "${segment}"`;
  if (!SEGMENT_CHARS.test(segment)) return "may contain only letters, digits, '.', '_' and '-'";
  return undefined;
}

/** Why `name` is not a valid trust domain name, or undefined when it is. */
export function trustDomainProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > 255) return 'must be at most 255 characters';
  if (!TRUST_DOMAIN_CHARS.test(name)) return "may contain only lowercase letters, digits, '.', '_' and '-'";
  return undefined;
}

export const MAX_CLUSTER_NAME_LENGTH = 253;

/**
 * Why `name` cannot be a cluster name, or undefined when it can. A cluster name is an agent ID
 * path segment and a selector value, so it follows the segment rules, with the node-name length cap.
 */
export function clusterNameProblem(name: string): string | undefined {
  if (name.length > MAX_CLUSTER_NAME_LENGTH) return `must be at most ${MAX_CLUSTER_NAME_LENGTH} characters`;
  return pathSegmentProblem(name);
}

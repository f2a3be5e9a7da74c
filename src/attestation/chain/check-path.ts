/**
 * Path CHECKING: decides whether one candidate path (leaf … trust anchor) is valid at `now`.
 * Signatures go first, so a forged certificate is reported as forged rather than as, say,
 * expired. Then structure (critical extensions, CA flags, key usage, path length, EKU nesting),
 * key policy, and validity of every certificate, the trust anchor included.
 *
 * Decisions worth knowing:
 * - Every issuer, the trust anchor included, needs basicConstraints cA=TRUE (Go requires it of
 *   intermediates only; a Kubernetes cluster CA always has it).
 * - keyUsage on an issuer must include keyCertSign when present; when absent it is allowed, as
 *   RFC 5280 §6.1.4(n) allows (Go ignores keyUsage on CAs entirely).
 * - pathLenConstraint counts all intermediates below the issuer, self-issued ones too (as Go).
 * - An issuer with an EKU extension must allow clientAuth or anyExtendedKeyUsage (Go's nesting rule).
 * - Any critical extension other than basicConstraints, keyUsage, extKeyUsage, subjectAltName and
 *   the key identifiers is refused, on every certificate. That includes name constraints and
 *   certificate policies, which we do not process (Go does; refusing is the safe side).
 * - The trust anchor's own signature is not checked (it is trusted by configuration).
 */
import { OID } from '../../x509/oids.js';
import { KeyUsage, type CertificateFacts } from './certificate.js';
import { keyProblem, signatureAlgorithmProblem } from './key-policy.js';
import { describe, type ChainProblem } from './problem.js';
import { pathValidityProblem } from './validity.js';

export interface PathCheckOptions {
  readonly now: Date;
  readonly clockSkewSeconds: number;
  /** node:crypto signature check of `child` with `issuer`'s key; cached by the caller. */
  readonly signatureVerifies: (child: CertificateFacts, issuer: CertificateFacts) => boolean;
}

const HANDLED_CRITICAL = new Set<string>([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
]);

export function checkPath(path: readonly CertificateFacts[], o: PathCheckOptions): ChainProblem | undefined {
  for (const [i, cert] of path.entries()) {
    const issuer = path[i + 1];
    if (issuer === undefined) break; // the trust anchor
    const problem = signatureProblem(path, i, cert, issuer, o);
    if (problem !== undefined) return problem;
  }
  for (const [i, cert] of path.entries()) {
    const problem = structureProblem(path, i, cert);
    if (problem !== undefined) return problem;
  }
  for (const [i, cert] of path.entries()) {
    const problem = keyProblem(cert.publicKey);
    if (problem !== undefined) return { reason: 'key', message: `${describe(path, i)} ${problem}` };
  }
  return pathValidityProblem(path, o.now, o.clockSkewSeconds);
}

function signatureProblem(
  path: readonly CertificateFacts[],
  i: number,
  cert: CertificateFacts,
  issuer: CertificateFacts,
  o: PathCheckOptions,
): ChainProblem | undefined {
  const algorithm = signatureAlgorithmProblem(cert.signatureAlgorithm, cert.signatureParameters);
  if (algorithm !== undefined)
    return { reason: 'signature-algorithm', message: `${describe(path, i)} is signed with ${algorithm}` };
  if (!cert.signatureAlgorithmsMatch)
    return {
      reason: 'signature-algorithm',
      message: `${describe(path, i)} has different inner and outer signature algorithms`,
    };
  if (!o.signatureVerifies(cert, issuer))
    return {
      reason: 'bad-signature',
      message: `signature of ${describe(path, i)} does not verify with the key of ${describe(path, i + 1)}`,
    };
  return undefined;
}

function structureProblem(
  path: readonly CertificateFacts[],
  i: number,
  cert: CertificateFacts,
): ChainProblem | undefined {
  const unknown = cert.criticalExtensions.find((oid) => !HANDLED_CRITICAL.has(oid));
  if (unknown !== undefined)
    return {
      reason: 'critical-extension',
      message: `${describe(path, i)} has an unsupported critical extension ${unknown}`,
      details: { extension: unknown },
    };
  if (i === 0) {
    if (cert.basicConstraints?.ca === true)
      return {
        reason: 'leaf-is-ca',
        message: `${describe(path, i)} is a CA certificate, not an end-entity one`,
      };
    return undefined;
  }
  if (cert.basicConstraints?.ca !== true)
    return {
      reason: 'not-ca',
      message: `${describe(path, i)} is not a CA (basicConstraints cA is not set) but issued ${describe(path, i - 1)}`,
    };
  if (cert.keyUsage !== undefined && (cert.keyUsage & KeyUsage.keyCertSign) === 0)
    return {
      reason: 'no-cert-sign',
      message: `${describe(path, i)} may not sign certificates (its keyUsage lacks keyCertSign)`,
    };
  const below = i - 1; // intermediates between this issuer and the leaf
  const pathLength = cert.basicConstraints.pathLength;
  if (pathLength !== undefined && below > pathLength)
    return {
      reason: 'path-length',
      message: `${describe(path, i)} allows ${pathLength} intermediate(s) below it (pathLenConstraint) but the path has ${below}`,
      details: { pathLength, intermediates: below },
    };
  if (
    cert.extKeyUsage !== undefined &&
    !cert.extKeyUsage.includes(OID.clientAuth) &&
    !cert.extKeyUsage.includes(OID.anyExtendedKeyUsage)
  )
    return {
      reason: 'eku',
      message: `${describe(path, i)} restricts extended key usage to ${cert.extKeyUsage.join(', ')}, which excludes clientAuth`,
    };
  return undefined;
}

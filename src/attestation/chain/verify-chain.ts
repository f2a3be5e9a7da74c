/**
 * Chain verification = path building (build-paths.ts) + path checking (check-path.ts). Every
 * valid path is kept, shortest first, because the ca:fingerprint selectors cover every CA that
 * vouches for the leaf (as x509pop's do), not just the one path we happened to find first.
 */
import type { X509Certificate } from 'node:crypto';
import { AttestorError } from '../../errors.js';
import { quote } from '../internal/text.js';
import { DEFAULT_MAX_INTERMEDIATES } from '../payload.js';
import { buildPaths, DEFAULT_BUILD_LIMITS } from './build-paths.js';
import { readCertificate, type CertificateFacts } from './certificate.js';
import { checkPath } from './check-path.js';
import type { ChainProblem } from './problem.js';
import { DEFAULT_CLOCK_SKEW_SECONDS } from './validity.js';

export interface ChainOptions {
  /** The time to validate at; default the current time. */
  readonly now?: Date;
  readonly clockSkewSeconds?: number;
  readonly maxIntermediates?: number;
  /** Names the trust bundle's cluster in messages. */
  readonly cluster?: string;
}

export type ChainCheck =
  | { readonly ok: true; readonly paths: readonly (readonly CertificateFacts[])[] }
  | { readonly ok: false; readonly problem: ChainProblem };

/** Checks a chain without throwing; the orchestration uses it to try several clusters. */
export function checkChain(
  leaf: CertificateFacts,
  intermediates: readonly CertificateFacts[],
  anchors: readonly CertificateFacts[],
  options: ChainOptions = {},
): ChainCheck {
  const now = options.now ?? new Date();
  const clockSkewSeconds = options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
  const maxIntermediates = options.maxIntermediates ?? DEFAULT_MAX_INTERMEDIATES;
  if (intermediates.length > maxIntermediates)
    return {
      ok: false,
      problem: {
        reason: 'too-complex',
        message: `${intermediates.length} intermediates were given; the limit is ${maxIntermediates}`,
      },
    };
  const built = buildPaths(leaf, intermediates, anchors, { ...DEFAULT_BUILD_LIMITS, maxIntermediates });
  if (built.paths.length === 0)
    return {
      ok: false,
      problem: built.truncated
        ? { reason: 'too-complex', message: 'path building gave up: too many candidate certificates' }
        : {
            reason: 'unknown-authority',
            message: `leaf certificate ${quote(leaf.subject, 200)} is signed by an unknown authority: no path from its issuer ${quote(leaf.issuer, 200)} to a certificate in the bundle`,
          },
    };

  // One path per candidate can repeat the same (child, issuer) pair; check each signature once.
  const signatures = new Map<string, boolean>();
  const signatureVerifies = (child: CertificateFacts, issuer: CertificateFacts): boolean => {
    const key = `${child.sha256}/${issuer.sha256}`;
    let ok = signatures.get(key);
    if (ok === undefined) {
      ok = verifySignature(child, issuer);
      signatures.set(key, ok);
    }
    return ok;
  };

  const valid: (readonly CertificateFacts[])[] = [];
  const problems: ChainProblem[] = [];
  for (const path of built.paths) {
    const problem = checkPath(path, { now, clockSkewSeconds, signatureVerifies });
    if (problem === undefined) valid.push(path);
    else problems.push(problem);
  }
  if (valid.length > 0) return { ok: true, paths: valid };
  // The shortest candidate's problem: the one an operator most likely needs to fix.
  const [first = { reason: 'unknown-authority', message: 'no candidate path verified' }] = problems;
  return { ok: false, problem: first };
}

function verifySignature(child: CertificateFacts, issuer: CertificateFacts): boolean {
  try {
    return child.cert.verify(issuer.publicKey);
  } catch {
    // OpenSSL refusing the key/algorithm combination is a failed signature, never a pass.
    return false;
  }
}

/** The stable ERR_CHAIN wording: "certificate chain does not verify to the CA bundle of cluster X: …". */
export function chainError(problem: ChainProblem, cluster?: string): AttestorError {
  const bundle = cluster === undefined ? 'the CA bundle' : `the CA bundle of cluster ${cluster}`;
  return new AttestorError(
    'ERR_CHAIN',
    `certificate chain does not verify to ${bundle}: ${problem.message}`,
    {
      details: { reason: problem.reason, ...(cluster === undefined ? {} : { cluster }), ...problem.details },
    },
  );
}

export interface VerifiedChain {
  /** The first valid path: leaf … trust anchor. */
  readonly path: readonly X509Certificate[];
  /** Every valid path, shortest first. */
  readonly paths: readonly (readonly X509Certificate[])[];
}

/**
 * Verifies `leaf` through `intermediates` to `trustBundle`. Unparsable agent certificates are
 * ERR_PAYLOAD, unusable bundle certificates ERR_CONFIG, and every trust failure ERR_CHAIN with
 * details.reason set to a ChainFailureReason.
 */
export function verifyChain(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  trustBundle: readonly X509Certificate[],
  options: ChainOptions = {},
): VerifiedChain {
  const result = checkChain(
    readCertificate(leaf, 'certificate 0 (the leaf)'),
    intermediates.map((c, i) => readCertificate(c, `certificate ${i + 1}`)),
    trustBundle.map((c, i) => readCertificate(c, `CA bundle certificate ${i}`, 'ERR_CONFIG')),
    options,
  );
  if (!result.ok) throw chainError(result.problem, options.cluster);
  const paths = result.paths.map((p) => p.map((c) => c.cert));
  const [path] = paths;
  if (path === undefined) throw new AttestorError('ERR_INTERNAL', 'chain check passed without a path');
  return { path, paths };
}

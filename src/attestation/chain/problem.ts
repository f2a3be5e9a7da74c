/** Why a chain did not verify: a stable reason for code and tests, and a message for people. */
import type { ErrorDetails } from '../../errors.js';
import { quote } from '../internal/text.js';
import type { CertificateFacts } from './certificate.js';

export type ChainFailureReason =
  | 'unknown-authority'
  | 'too-complex'
  | 'bad-signature'
  | 'signature-algorithm'
  | 'critical-extension'
  | 'leaf-is-ca'
  | 'not-ca'
  | 'no-cert-sign'
  | 'path-length'
  | 'eku'
  | 'key'
  | 'expired'
  | 'not-yet-valid'
  | 'unknown-cluster'
  | 'ambiguous-cluster';

export interface ChainProblem {
  readonly reason: ChainFailureReason;
  readonly message: string;
  readonly details?: ErrorDetails;
}

/** "leaf certificate "O=…, CN=…"", "intermediate certificate "…"" or "CA certificate "…"" by position. */
export function describe(path: readonly CertificateFacts[], index: number): string {
  const role =
    index === 0
      ? 'leaf certificate'
      : index === path.length - 1
        ? 'CA certificate'
        : 'intermediate certificate';
  return `${role} ${quote(path[index]?.subject ?? '?', 200)}`;
}

/**
 * What the approver runs with, as the library sees it: Kubernetes access plus the approval,
 * leader-election and serving settings. Front ends (the `approver` subcommand's flags, tests)
 * fill it; nothing here knows how.
 */
import type { KubeAccessOptions } from '../kube/access.js';

export interface ApproverSettings extends KubeAccessOptions {
  readonly allowRequesters: readonly string[];
  readonly allowNodeBoundTokens: boolean;
  readonly podLookup: boolean;
  readonly workers: number;
  readonly recordEvents: boolean;
  readonly leaderElect: boolean;
  readonly leaseName: string;
  readonly leaseNamespace: string;
  readonly leaderIdentity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly httpAddress: string;
}

/**
 * The settings every controller (the approver, the signer) runs with beyond its own job: worker
 * count, leader election over a Lease, and where health/metrics are served. One home for their
 * shape and their shared defaults, so both controllers and their flags agree.
 */

export interface ControllerSettings {
  readonly workers: number;
  readonly leaderElect: boolean;
  readonly leaseName: string;
  readonly leaseNamespace: string;
  readonly leaderIdentity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly httpAddress: string;
}

/** The controller settings with a default (the identity is made per replica, elect is on). */
export type ControllerDefaults = Omit<ControllerSettings, 'leaderElect' | 'leaderIdentity'>;

/** The defaults both controllers share; each adds its own workers and leaseName. */
export const CONTROLLER_DEFAULTS = {
  leaseNamespace: 'spire',
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
  httpAddress: ':8080',
} as const;

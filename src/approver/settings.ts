/**
 * What the approver runs with, as the library sees it: Kubernetes access plus the approval,
 * leader-election and serving settings. Front ends (the `approver` subcommand's flags, tests)
 * fill it; nothing here knows how.
 */
import { CONTROLLER_DEFAULTS, type ControllerSettings } from '../controller/settings.js';
import type { KubeAccessOptions } from '../kube/access.js';

export interface ApproverSettings extends KubeAccessOptions, ControllerSettings {
  readonly allowRequesters: readonly string[];
  readonly allowNodeBoundTokens: boolean;
  readonly podLookup: boolean;
  /** Deny node-client CSRs without spec.expirationSeconds or asking for longer than this. */
  readonly maxExpirationMs: number;
  readonly recordEvents: boolean;
}

/** The defaults of the settings that have one (the approver subcommand's --help shows them). */
export const APPROVER_DEFAULTS = {
  workers: 2,
  /**
   * 4h: four times the 1h our CLI and agent plugin request by default (room for operators who
   * raise it), while a credential obtained with a briefly held token dies within hours, not the
   * signer's year.
   */
  maxExpirationMs: 4 * 3_600_000,
  leaseName: 'node-attestor-approver',
  ...CONTROLLER_DEFAULTS,
} as const;

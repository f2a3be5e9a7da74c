/**
 * What the signer runs with, as the library sees it. Front ends (the `signer` subcommand's flags,
 * tests) fill it.
 */
import type { KubeAccessOptions } from '../kube/access.js';

export type CaSourceSetting =
  | { readonly kind: 'files'; readonly certFile: string; readonly keyFile: string }
  | { readonly kind: 'secret'; readonly namespace: string; readonly name: string };

export interface SignerSettings extends KubeAccessOptions {
  readonly signerName: string;
  /** "namespace:name" of each service account whose pods get certificates. */
  readonly allowServiceAccounts: readonly string[];
  readonly requirePodLabels: Readonly<Record<string, string>>;
  readonly maxExpirationMs: number;
  /** beginRefreshAt this long after notBefore; undefined: half the lifetime. */
  readonly refreshAfterMs?: number;
  readonly ca: CaSourceSetting;
  readonly caPublishDelayMs: number;
  readonly caReloadMs: number;
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

export const SIGNER_DEFAULTS = {
  signerName: 'node-attestor.spiffe.io/spire-agent',
  /** The kubelet's default request (maxExpirationSeconds 86400). */
  maxExpirationMs: 24 * 3_600_000,
  /** Servers that read the CA bundle at start need a restart or a Configure to see a new CA. */
  caPublishDelayMs: 3_600_000,
  caReloadMs: 30_000,
  workers: 4,
  leaseName: 'node-attestor-signer',
  leaseNamespace: 'spire',
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
  httpAddress: ':8080',
} as const;

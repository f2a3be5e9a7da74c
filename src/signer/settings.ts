/**
 * What the signer runs with, as the library sees it. Front ends (the `signer` subcommand's flags,
 * tests) fill it.
 */
import { CONTROLLER_DEFAULTS, type ControllerSettings } from '../controller/settings.js';
import type { KubeAccessOptions } from '../kube/access.js';

export type CaSourceSetting =
  | { readonly kind: 'files'; readonly certFile: string; readonly keyFile: string }
  | { readonly kind: 'secret'; readonly namespace: string; readonly name: string };

export interface SignerSettings extends KubeAccessOptions, ControllerSettings {
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
  ...CONTROLLER_DEFAULTS,
} as const;

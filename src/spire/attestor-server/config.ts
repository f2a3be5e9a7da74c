/**
 * The plugin_data every certificate-based server attestor (k8s_csr, k8s_pod_cert) reads the same
 * way: plugin_name, agent_path_template, clock_skew, max_intermediates, the challenge limits, and
 * one entry per cluster with its CA bundle. Each plugin reads its own per-cluster policy and
 * profile through the spec; unknown keys are refused by name.
 */
import type { X509Certificate } from 'node:crypto';
import { AttestorError, isAttestorError, toAttestorError } from '../../errors.js';
import { clusterNameProblem } from '../../attestation/agent.js';
import type { KubeAccessOptions } from '../../kube/access.js';
import { readCaBundleFile } from '../../kube/pem.js';
import {
  compileServerConfig,
  type CompiledServerConfig,
  type LeafProfile,
} from '../../attestation/verify-attestation.js';
import { DEFAULT_MAX_INTERMEDIATES } from '../../attestation/payload.js';
import { ConfigReader } from '../host/index.js';
import {
  DEFAULT_CHALLENGE_TIMEOUT_MS,
  DEFAULT_MAX_PENDING_CHALLENGES,
  MAX_CHALLENGE_TIMEOUT_MS,
  MAX_PENDING_CHALLENGES_LIMIT,
  MIN_CHALLENGE_TIMEOUT_MS,
  type ChallengeLimits,
} from '../k8s-csr/server/pending-challenges.js';

export interface AttestorServerConfig<P> {
  readonly compiled: CompiledServerConfig;
  /** For logs: cluster name → CA bundle path and certificate count. */
  readonly bundles: ReadonlyMap<string, { path: string; certificates: number }>;
  readonly policies: ReadonlyMap<string, P>;
  /** challenge_timeout and max_pending_challenges. */
  readonly challenge: ChallengeLimits;
}

export interface AttestorServerConfigSpec<P> {
  readonly defaultPluginName: string;
  /** agent_path_template when not set; without one, the attestation library's default. */
  readonly defaultTemplate?: string;
  /** The CA bundle path in the example of the "no clusters" error. */
  readonly exampleCaBundlePath: string;
  /** Reads the plugin's own keys of one cluster entry. */
  readonly readPolicy: (cluster: string, c: ConfigReader) => P;
  /** The leaf profile check, when the plugin's differs from the node-client profile. */
  readonly profile?: (policies: ReadonlyMap<string, P>) => LeafProfile;
}

export const configError = (message: string, key: string, cause?: unknown): AttestorError =>
  new AttestorError('ERR_CONFIG', message, { details: { key }, ...(cause !== undefined ? { cause } : {}) });

/** The cluster's CA bundle, by the same rule as every cluster CA bundle (kube/pem.ts). */
function readBundle(cluster: string, path: string): X509Certificate[] {
  const key = `clusters."${cluster}".ca_bundle_path`;
  try {
    return [...readCaBundleFile(path, { label: `${key} ${path}`, file: path }).certificates];
  } catch (err) {
    throw configError(toAttestorError(err).message, key, err);
  }
}

/** Parses plugin_data and reads every CA bundle (SPIRE re-sends Configure to reload them). */
export function loadAttestorServerConfig<P>(
  hcl: string,
  trustDomain: string,
  spec: AttestorServerConfigSpec<P>,
): AttestorServerConfig<P> {
  const r = ConfigReader.parse(hcl);
  const pluginName = r.optionalString('plugin_name') ?? spec.defaultPluginName;
  const template = r.optionalString('agent_path_template') ?? spec.defaultTemplate;
  const clockSkewMs = r.optionalDuration('clock_skew', { max: 600_000 });
  const maxIntermediates =
    r.optionalInt('max_intermediates', { min: 0, max: 16 }) ?? DEFAULT_MAX_INTERMEDIATES;
  const challenge: ChallengeLimits = {
    timeoutMs:
      r.optionalDuration('challenge_timeout', {
        min: MIN_CHALLENGE_TIMEOUT_MS,
        max: MAX_CHALLENGE_TIMEOUT_MS,
      }) ?? DEFAULT_CHALLENGE_TIMEOUT_MS,
    maxPending:
      r.optionalInt('max_pending_challenges', { min: 1, max: MAX_PENDING_CHALLENGES_LIMIT }) ??
      DEFAULT_MAX_PENDING_CHALLENGES,
  };
  const clusterReaders = r.objectMap('clusters');
  if (clusterReaders.size === 0)
    throw configError(
      `clusters must name at least one cluster, e.g. clusters = { "prod" = { ca_bundle_path = "${spec.exampleCaBundlePath}" } }`,
      'clusters',
    );
  const clusters = new Map<string, { caBundle: X509Certificate[] }>();
  const bundles = new Map<string, { path: string; certificates: number }>();
  const policies = new Map<string, P>();
  for (const [name, c] of clusterReaders) {
    const problem = clusterNameProblem(name);
    if (problem !== undefined)
      throw configError(`clusters: cluster name ${JSON.stringify(name)} ${problem}`, 'clusters');
    const path = c.requiredString('ca_bundle_path');
    const caBundle = readBundle(name, path);
    clusters.set(name, { caBundle });
    bundles.set(name, { path, certificates: caBundle.length });
    policies.set(name, spec.readPolicy(name, c));
  }
  r.done();
  let compiled: CompiledServerConfig;
  try {
    compiled = compileServerConfig({
      clusters,
      pluginName,
      trustDomain,
      maxIntermediates,
      ...(template !== undefined ? { agentPathTemplate: template } : {}),
      ...(spec.profile !== undefined ? { profile: spec.profile(policies) } : {}),
      ...(clockSkewMs !== undefined ? { clockSkewSeconds: Math.round(clockSkewMs / 1000) } : {}),
    });
  } catch (err) {
    // The template parser says "agent path template"; name the key the user wrote.
    if (isAttestorError(err, 'ERR_CONFIG') && err.details.key === 'agent_path_template')
      throw configError(`agent_path_template: ${err.message}`, 'agent_path_template', err);
    throw err;
  }
  return { compiled, bundles, policies, challenge };
}

/** One cluster's keys for the checks against its API, as written. */
export interface ClusterApiKeys {
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly labelKeys?: readonly string[];
}

/** Reads kubeconfig_path, kube_context and allowed_node_label_keys of one cluster entry. */
export function readClusterApiKeys(c: ConfigReader): ClusterApiKeys {
  const kubeconfig = c.optionalString('kubeconfig_path');
  const context = c.optionalString('kube_context');
  const labelKeys = c.optionalStringList('allowed_node_label_keys');
  return {
    ...(kubeconfig !== undefined ? { kubeconfig } : {}),
    ...(context !== undefined ? { context } : {}),
    ...(labelKeys !== undefined ? { labelKeys } : {}),
  };
}

/**
 * With the cluster's API checks off, refuses the first key that only they use, saying which
 * setting it `needs` (e.g. "verify_node = true").
 */
export function refuseUnusedApiKeys(
  cluster: string,
  keys: ClusterApiKeys,
  needs: string,
  more: readonly (readonly [string, unknown])[] = [],
): void {
  const set = [
    ['kubeconfig_path', keys.kubeconfig],
    ['kube_context', keys.context],
    ['allowed_node_label_keys', keys.labelKeys],
    ...more,
  ].find(([, v]) => v !== undefined);
  if (set !== undefined) {
    const key = `clusters."${cluster}".${String(set[0])}`;
    throw configError(`${key} needs ${needs}`, key);
  }
}

// A Kubernetes label key: an optional DNS-subdomain prefix and "/", then a name of at most 63
// characters starting and ending with an alphanumeric.
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !LABEL_PREFIX.test(prefix)))
    return 'has an invalid prefix';
  if (!LABEL_NAME.test(name)) return 'is not a valid label name';
  return undefined;
}

/**
 * A checking cluster's API access (its kubeconfig, or in-cluster when none is given) and its
 * allow-listed label keys, each checked.
 */
export function clusterApiAccess(
  cluster: string,
  keys: ClusterApiKeys,
): { kube: KubeAccessOptions; labelKeys: ReadonlySet<string> } {
  const key = `clusters."${cluster}".allowed_node_label_keys`;
  for (const label of keys.labelKeys ?? []) {
    const problem = labelKeyProblem(label);
    if (problem !== undefined) throw configError(`${key}: ${JSON.stringify(label)} ${problem}`, key);
  }
  const { kubeconfig, context } = keys;
  return {
    kube:
      kubeconfig !== undefined
        ? { kubeconfig, ...(context !== undefined ? { context } : {}) }
        : { inCluster: true },
    labelKeys: new Set(keys.labelKeys ?? []),
  };
}

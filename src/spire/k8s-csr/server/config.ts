/**
 * The k8s_csr server plugin's configuration (plugin_data in server.conf), one entry per cluster
 * so one SPIRE server can attest the nodes of several clusters. Documented in
 * docs/plugin-server-k8s-csr.md; unknown keys are refused by name.
 */
import { X509Certificate } from 'node:crypto';
import { AttestorError, isAttestorError, toAttestorError } from '../../../errors.js';
import { clusterNameProblem } from '../../../attestation/agent.js';
import { readCaBundleFile } from '../../../kube/pem.js';
import { compileServerConfig, type CompiledServerConfig } from '../../../attestation/verify-attestation.js';
import { DEFAULT_MAX_INTERMEDIATES } from '../../../attestation/payload.js';
import type { KubeAccessOptions } from '../../../kube/access.js';
import { ConfigReader } from '../../host/index.js';
import type { CertificateAgePolicy } from './certificate-age.js';
import {
  DEFAULT_CHALLENGE_TIMEOUT_MS,
  DEFAULT_MAX_PENDING_CHALLENGES,
  MAX_CHALLENGE_TIMEOUT_MS,
  MAX_PENDING_CHALLENGES_LIMIT,
  MIN_CHALLENGE_TIMEOUT_MS,
  type ChallengeLimits,
} from './pending-challenges.js';

export const DEFAULT_PLUGIN_NAME = 'k8s_csr';

/** Checks against the cluster's API: the Node named by the certificate must exist (issue: the trust gap). */
export interface NodeVerification {
  /** kubeconfig_path/kube_context, or in-cluster when no kubeconfig is given. */
  readonly kube: KubeAccessOptions;
  readonly labelKeys: ReadonlySet<string>;
  readonly requireAddress: boolean;
}

export interface ClusterPolicy {
  readonly age: CertificateAgePolicy;
  readonly node?: NodeVerification;
}

export interface ServerConfig {
  readonly compiled: CompiledServerConfig;
  /** For logs: cluster name → CA bundle path and certificate count. */
  readonly bundles: ReadonlyMap<string, { path: string; certificates: number }>;
  readonly policies: ReadonlyMap<string, ClusterPolicy>;
  /** challenge_timeout and max_pending_challenges. */
  readonly challenge: ChallengeLimits;
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

function readPolicy(cluster: string, c: ConfigReader): ClusterPolicy {
  const at = (key: string): string => `clusters."${cluster}".${key}`;
  const maxLifetimeMs = c.optionalDuration('max_certificate_lifetime', { min: 60_000 });
  const maxAgeMs = c.optionalDuration('max_certificate_age', { min: 60_000 });
  const age: CertificateAgePolicy = {
    ...(maxLifetimeMs !== undefined ? { maxLifetimeMs } : {}),
    ...(maxAgeMs !== undefined ? { maxAgeMs } : {}),
  };
  const verify = c.optionalBool('verify_node') ?? false;
  const kubeconfig = c.optionalString('kubeconfig_path');
  const context = c.optionalString('kube_context');
  const labelKeys = c.optionalStringList('allowed_node_label_keys');
  const requireAddress = c.optionalBool('require_node_address');
  if (!verify) {
    const needs = [
      ['kubeconfig_path', kubeconfig],
      ['kube_context', context],
      ['allowed_node_label_keys', labelKeys],
      ['require_node_address', requireAddress],
    ].find(([, v]) => v !== undefined);
    if (needs !== undefined)
      throw configError(`${at(String(needs[0]))} needs verify_node = true`, at(String(needs[0])));
    return { age };
  }
  for (const key of labelKeys ?? []) {
    const problem = labelKeyProblem(key);
    if (problem !== undefined)
      throw configError(
        `${at('allowed_node_label_keys')}: ${JSON.stringify(key)} ${problem}`,
        at('allowed_node_label_keys'),
      );
  }
  return {
    age,
    node: {
      kube:
        kubeconfig !== undefined
          ? { kubeconfig, ...(context !== undefined ? { context } : {}) }
          : { inCluster: true },
      labelKeys: new Set(labelKeys ?? []),
      requireAddress: requireAddress ?? false,
    },
  };
}

const configError = (message: string, key: string, cause?: unknown): AttestorError =>
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
export function loadServerConfig(hcl: string, trustDomain: string): ServerConfig {
  const r = ConfigReader.parse(hcl);
  const pluginName = r.optionalString('plugin_name') ?? DEFAULT_PLUGIN_NAME;
  const template = r.optionalString('agent_path_template');
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
      'clusters must name at least one cluster, e.g. clusters = { "prod" = { ca_bundle_path = "/etc/k8s/ca.crt" } }',
      'clusters',
    );
  const clusters = new Map<string, { caBundle: X509Certificate[] }>();
  const bundles = new Map<string, { path: string; certificates: number }>();
  const policies = new Map<string, ClusterPolicy>();
  for (const [name, c] of clusterReaders) {
    const problem = clusterNameProblem(name);
    if (problem !== undefined)
      throw configError(`clusters: cluster name ${JSON.stringify(name)} ${problem}`, 'clusters');
    const path = c.requiredString('ca_bundle_path');
    const caBundle = readBundle(name, path);
    clusters.set(name, { caBundle });
    bundles.set(name, { path, certificates: caBundle.length });
    policies.set(name, readPolicy(name, c));
  }
  r.done();
  let compiled: CompiledServerConfig;
  try {
    compiled = compileServerConfig({
      clusters,
      pluginName,
      trustDomain,
      maxIntermediates,
      ...(clockSkewMs !== undefined ? { clockSkewSeconds: Math.round(clockSkewMs / 1000) } : {}),
      ...(template !== undefined ? { agentPathTemplate: template } : {}),
    });
  } catch (err) {
    // The template parser says "agent path template"; name the key the user wrote.
    if (isAttestorError(err, 'ERR_CONFIG') && err.details.key === 'agent_path_template')
      throw configError(`agent_path_template: ${err.message}`, 'agent_path_template', err);
    throw err;
  }
  // {{node_uid}} comes from the Node lookup: without verify_node it would fail every attestation.
  const unverified = [...policies].filter(([, p]) => p.node === undefined).map(([n]) => n);
  if (compiled.template.variables.has('node_uid') && unverified.length > 0)
    throw configError(
      `agent_path_template ${JSON.stringify(compiled.template.text)} uses {{node_uid}}, which needs verify_node = true in every cluster (not set in: ${unverified.join(', ')})`,
      'agent_path_template',
    );
  return { compiled, bundles, policies, challenge };
}

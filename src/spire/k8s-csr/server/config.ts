/**
 * The k8s_csr server plugin's configuration (plugin_data in server.conf), one entry per cluster
 * so one SPIRE server can attest the nodes of several clusters. Documented in
 * docs/plugin-server-k8s-csr.md; unknown keys are refused by name.
 */
import type { KubeAccessOptions } from '../../../kube/access.js';
import type { ConfigReader } from '../../host/index.js';
import {
  configError,
  loadAttestorServerConfig,
  type AttestorServerConfig,
} from '../../attestor-server/config.js';
import type { CertificateAgePolicy } from './certificate-age.js';

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

export type ServerConfig = AttestorServerConfig<ClusterPolicy>;

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

/** Parses plugin_data and reads every CA bundle (SPIRE re-sends Configure to reload them). */
export function loadServerConfig(hcl: string, trustDomain: string): ServerConfig {
  const config = loadAttestorServerConfig(hcl, trustDomain, {
    defaultPluginName: DEFAULT_PLUGIN_NAME,
    exampleCaBundlePath: '/etc/k8s/ca.crt',
    readPolicy,
  });
  const { compiled, policies } = config;
  // {{node_uid}} comes from the Node lookup: without verify_node it would fail every attestation.
  const unverified = [...policies].filter(([, p]) => p.node === undefined).map(([n]) => n);
  if (compiled.template.variables.has('node_uid') && unverified.length > 0)
    throw configError(
      `agent_path_template ${JSON.stringify(compiled.template.text)} uses {{node_uid}}, which needs verify_node = true in every cluster (not set in: ${unverified.join(', ')})`,
      'agent_path_template',
    );
  return config;
}

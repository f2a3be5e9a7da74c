/**
 * The k8s_csr server plugin's configuration (plugin_data in server.conf), one entry per cluster
 * so one SPIRE server can attest the nodes of several clusters. Documented in
 * docs/plugin-server-k8s-csr.md; unknown keys are refused by name.
 */
import type { KubeAccessOptions } from '../../../kube/access.js';
import type { ConfigReader } from '../../host/index.js';
import {
  clusterApiAccess,
  configError,
  loadAttestorServerConfig,
  readClusterApiKeys,
  refuseUnusedApiKeys,
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

function readPolicy(cluster: string, c: ConfigReader): ClusterPolicy {
  const maxLifetimeMs = c.optionalDuration('max_certificate_lifetime', { min: 60_000 });
  const maxAgeMs = c.optionalDuration('max_certificate_age', { min: 60_000 });
  const age: CertificateAgePolicy = {
    ...(maxLifetimeMs !== undefined ? { maxLifetimeMs } : {}),
    ...(maxAgeMs !== undefined ? { maxAgeMs } : {}),
  };
  const verify = c.optionalBool('verify_node') ?? false;
  const api = readClusterApiKeys(c);
  const requireAddress = c.optionalBool('require_node_address');
  if (!verify) {
    refuseUnusedApiKeys(cluster, api, 'verify_node = true', [['require_node_address', requireAddress]]);
    return { age };
  }
  return { age, node: { ...clusterApiAccess(cluster, api), requireAddress: requireAddress ?? false } };
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

/**
 * The k8s_pod_cert server plugin's configuration (plugin_data in server.conf), one entry per
 * cluster: the signer's CA bundle, the signer name its certificates must carry, and the checks
 * against the cluster's API. Documented in docs/pod-certificates.md; unknown keys are refused by
 * name. verify_node is on by default: the certificate names the node's UID, and a node deleted
 * and re-created under the same name (a new UID) must not attest with the old certificate.
 */
import { X509Certificate } from 'node:crypto';
import { AttestorError, isAttestorError, toAttestorError } from '../../../errors.js';
import { clusterNameProblem } from '../../../attestation/agent.js';
import { readCaBundleFile } from '../../../kube/pem.js';
import { compileServerConfig, type CompiledServerConfig } from '../../../attestation/verify-attestation.js';
import { DEFAULT_MAX_INTERMEDIATES } from '../../../attestation/payload.js';
import type { KubeAccessOptions } from '../../../kube/access.js';
import { checkPodCertProfile } from '../../../attestation/pod-cert-profile.js';
import { SIGNER_DEFAULTS } from '../../../signer/settings.js';
import { ConfigReader } from '../../host/index.js';
import { labelKeyProblem } from '../../k8s-csr/server/config.js';
import {
  DEFAULT_CHALLENGE_TIMEOUT_MS,
  DEFAULT_MAX_PENDING_CHALLENGES,
  MAX_CHALLENGE_TIMEOUT_MS,
  MAX_PENDING_CHALLENGES_LIMIT,
  MIN_CHALLENGE_TIMEOUT_MS,
  type ChallengeLimits,
} from '../../k8s-csr/server/pending-challenges.js';

export const DEFAULT_POD_CERT_PLUGIN_NAME = 'k8s_pod_cert';
/** Under /spire/agent: spire-controller-manager's parent-ID convention, with this plugin's name. */
export const DEFAULT_POD_CERT_TEMPLATE = '/{{plugin_name}}/{{cluster}}/{{node_uid}}';

export interface PodCertClusterPolicy {
  readonly signerName: string;
  /** API checks; undefined when verify_node and verify_pod are both off. */
  readonly api?: {
    readonly kube: KubeAccessOptions;
    readonly verifyNode: boolean;
    readonly verifyPod: boolean;
    readonly labelKeys: ReadonlySet<string>;
  };
}

export interface PodCertServerConfig {
  readonly compiled: CompiledServerConfig;
  readonly bundles: ReadonlyMap<string, { path: string; certificates: number }>;
  readonly policies: ReadonlyMap<string, PodCertClusterPolicy>;
  readonly challenge: ChallengeLimits;
}

const configError = (message: string, key: string, cause?: unknown): AttestorError =>
  new AttestorError('ERR_CONFIG', message, { details: { key }, ...(cause !== undefined ? { cause } : {}) });

function readPolicy(cluster: string, c: ConfigReader): PodCertClusterPolicy {
  const at = (key: string): string => `clusters."${cluster}".${key}`;
  const signerName = c.optionalString('signer_name') ?? SIGNER_DEFAULTS.signerName;
  if (!/^[^/\s]+\/[^/\s]+$/.test(signerName))
    throw configError(
      `${at('signer_name')} ${JSON.stringify(signerName)} is not <domain>/<name>`,
      at('signer_name'),
    );
  const verifyNode = c.optionalBool('verify_node') ?? true;
  const verifyPod = c.optionalBool('verify_pod') ?? false;
  const kubeconfig = c.optionalString('kubeconfig_path');
  const context = c.optionalString('kube_context');
  const labelKeys = c.optionalStringList('allowed_node_label_keys');
  if (!verifyNode && !verifyPod) {
    const needs = [
      ['kubeconfig_path', kubeconfig],
      ['kube_context', context],
      ['allowed_node_label_keys', labelKeys],
    ].find(([, v]) => v !== undefined);
    if (needs !== undefined)
      throw configError(
        `${at(String(needs[0]))} needs verify_node or verify_pod = true`,
        at(String(needs[0])),
      );
    return { signerName };
  }
  if (labelKeys !== undefined && !verifyNode)
    throw configError(
      `${at('allowed_node_label_keys')} needs verify_node = true`,
      at('allowed_node_label_keys'),
    );
  for (const key of labelKeys ?? []) {
    const problem = labelKeyProblem(key);
    if (problem !== undefined)
      throw configError(
        `${at('allowed_node_label_keys')}: ${JSON.stringify(key)} ${problem}`,
        at('allowed_node_label_keys'),
      );
  }
  return {
    signerName,
    api: {
      kube:
        kubeconfig !== undefined
          ? { kubeconfig, ...(context !== undefined ? { context } : {}) }
          : { inCluster: true },
      verifyNode,
      verifyPod,
      labelKeys: new Set(labelKeys ?? []),
    },
  };
}

function readBundle(cluster: string, path: string): X509Certificate[] {
  const key = `clusters."${cluster}".ca_bundle_path`;
  try {
    return [...readCaBundleFile(path, { label: `${key} ${path}`, file: path }).certificates];
  } catch (err) {
    throw configError(toAttestorError(err).message, key, err);
  }
}

export function loadPodCertServerConfig(hcl: string, trustDomain: string): PodCertServerConfig {
  const r = ConfigReader.parse(hcl);
  const pluginName = r.optionalString('plugin_name') ?? DEFAULT_POD_CERT_PLUGIN_NAME;
  const template = r.optionalString('agent_path_template') ?? DEFAULT_POD_CERT_TEMPLATE;
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
      'clusters must name at least one cluster, e.g. clusters = { "prod" = { ca_bundle_path = "/etc/node-attestor/signer-ca.crt" } }',
      'clusters',
    );
  const clusters = new Map<string, { caBundle: X509Certificate[] }>();
  const bundles = new Map<string, { path: string; certificates: number }>();
  const policies = new Map<string, PodCertClusterPolicy>();
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
      agentPathTemplate: template,
      profile: (leaf, cluster) =>
        checkPodCertProfile(leaf, policies.get(cluster)?.signerName ?? SIGNER_DEFAULTS.signerName),
      ...(clockSkewMs !== undefined ? { clockSkewSeconds: Math.round(clockSkewMs / 1000) } : {}),
    });
  } catch (err) {
    if (isAttestorError(err, 'ERR_CONFIG') && err.details.key === 'agent_path_template')
      throw configError(`agent_path_template: ${err.message}`, 'agent_path_template', err);
    throw err;
  }
  return { compiled, bundles, policies, challenge };
}

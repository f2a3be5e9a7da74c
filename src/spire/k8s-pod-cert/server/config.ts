/**
 * The k8s_pod_cert server plugin's configuration (plugin_data in server.conf), one entry per
 * cluster: the signer's CA bundle, the signer name its certificates must carry, and the checks
 * against the cluster's API. Documented in docs/pod-certificates.md; unknown keys are refused by
 * name. verify_node is on by default: the certificate names the node's UID, and a node deleted
 * and re-created under the same name (a new UID) must not attest with the old certificate.
 */
import type { KubeAccessOptions } from '../../../kube/access.js';
import { checkPodCertProfile } from '../../../attestation/pod-cert-profile.js';
import { SIGNER_DEFAULTS } from '../../../signer/settings.js';
import type { ConfigReader } from '../../host/index.js';
import {
  clusterApiAccess,
  configError,
  loadAttestorServerConfig,
  readClusterApiKeys,
  refuseUnusedApiKeys,
  type AttestorServerConfig,
} from '../../attestor-server/config.js';

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

export type PodCertServerConfig = AttestorServerConfig<PodCertClusterPolicy>;

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
  const keys = readClusterApiKeys(c);
  if (!verifyNode && !verifyPod) {
    refuseUnusedApiKeys(cluster, keys, 'verify_node or verify_pod = true');
    return { signerName };
  }
  if (keys.labelKeys !== undefined && !verifyNode)
    throw configError(
      `${at('allowed_node_label_keys')} needs verify_node = true`,
      at('allowed_node_label_keys'),
    );
  const { kube, labelKeys } = clusterApiAccess(cluster, keys);
  return { signerName, api: { kube, verifyNode, verifyPod, labelKeys } };
}

export function loadPodCertServerConfig(hcl: string, trustDomain: string): PodCertServerConfig {
  return loadAttestorServerConfig(hcl, trustDomain, {
    defaultPluginName: DEFAULT_POD_CERT_PLUGIN_NAME,
    defaultTemplate: DEFAULT_POD_CERT_TEMPLATE,
    exampleCaBundlePath: '/etc/node-attestor/signer-ca.crt',
    readPolicy,
    profile: (policies) => (leaf, cluster) =>
      checkPodCertProfile(leaf, policies.get(cluster)?.signerName ?? SIGNER_DEFAULTS.signerName),
  });
}

/**
 * The k8s_csr agent plugin's configuration (plugin_data in agent.conf). Documented key by key in
 * docs/plugin-agent-k8s-csr.md; unknown keys are refused by name.
 */
import { hostname } from 'node:os';
import {
  AGENT_ID_DIR,
  DEFAULT_APPROVAL_TIMEOUT_MS,
  DEFAULT_EXPIRATION_MS,
  MAX_APPROVAL_TIMEOUT_MS,
  MAX_EXPIRATION_MS,
  MIN_EXPIRATION_MS,
} from '../../../identity/defaults.js';
import type { IdentityRequest } from '../../../identity/request.js';
import { AttestorError } from '../../../errors.js';
import { clusterNameProblem } from '../../../attestation/agent.js';
import { DEFAULT_KEY_TYPE, parseKeyType, type KeyType } from '../../../csr/keys.js';
import { defaultNodeName, nodeNameProblem } from '../../../csr/profile.js';
import type { KubeAccessOptions } from '../../../kube/access.js';
import { ConfigReader } from '../../host/index.js';
import { definedOnly } from '../../../util/defined.js';
import { DEFAULT_WAIT_MODE, WAIT_MODES, isWaitMode, type WaitMode } from '../../../kube/wait-mode.js';

export interface AgentConfig {
  readonly cluster: string;
  readonly kube: KubeAccessOptions;
  readonly identity: IdentityRequest;
  /** How to wait for the certificate: watch the CSR, or read it by name (the narrow role). */
  readonly waitMode: WaitMode;
}

const configError = (message: string, key: string): AttestorError =>
  new AttestorError('ERR_CONFIG', message, { details: { key } });

export function parseAgentConfig(hcl: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const r = ConfigReader.parse(hcl);
  // An empty path or name is never meant: refuse it here rather than let it mean "not given"
  // (kubeconfig_path = "" fell back to ~/.kube/config) or fail later with a confusing message.
  const optionalString = (key: string): string | undefined => {
    const v = r.optionalString(key);
    if (v === '') throw configError(`invalid plugin configuration: ${key}: must not be empty`, key);
    return v;
  };
  const cluster = r.requiredString('cluster');
  const clusterProblem = clusterNameProblem(cluster);
  if (clusterProblem !== undefined)
    throw configError(`cluster ${JSON.stringify(cluster)} ${clusterProblem}`, 'cluster');

  const kubeconfig = optionalString('kubeconfig_path');
  const context = optionalString('kube_context');
  const server = optionalString('server');
  const caCert = optionalString('ca_cert_path');
  const clientCert = optionalString('client_cert_path');
  const clientKey = optionalString('client_key_path');
  const tokenFile = optionalString('token_path');
  const inCluster = r.optionalBool('in_cluster') ?? false;
  if ((clientCert === undefined) !== (clientKey === undefined))
    throw configError(
      'client_cert_path and client_key_path must be given together',
      clientCert === undefined ? 'client_cert_path' : 'client_key_path',
    );
  if (inCluster && (kubeconfig !== undefined || server !== undefined))
    throw configError('in_cluster cannot be combined with kubeconfig_path or server', 'in_cluster');

  const literal = optionalString('agent_name');
  const fromEnv = optionalString('agent_name_env');
  if (literal !== undefined && fromEnv !== undefined)
    throw configError('give agent_name or agent_name_env, not both', 'agent_name_env');
  let nodeName: string;
  let nameKey = 'agent_name';
  if (fromEnv !== undefined) {
    nameKey = 'agent_name_env';
    const v = env[fromEnv];
    if (v === undefined || v === '')
      throw configError(
        `agent_name_env: environment variable ${fromEnv} is not set (a DaemonSet sets it from spec.nodeName)`,
        nameKey,
      );
    nodeName = v;
  } else {
    nodeName = literal ?? defaultNodeName(hostname());
  }
  const nameProblem = nodeNameProblem(nodeName);
  if (nameProblem !== undefined)
    throw configError(
      `${nameKey}: ${JSON.stringify(nodeName)} is not a valid node name: ${nameProblem}`,
      nameKey,
    );

  const keyTypeText = optionalString('key_type') ?? DEFAULT_KEY_TYPE;
  let keyType: KeyType;
  try {
    keyType = parseKeyType(keyTypeText, 'key_type');
  } catch (err) {
    throw configError(err instanceof Error ? err.message : String(err), 'key_type');
  }
  // The x509pop proof of possession (the wire format both halves speak) is RSA or ECDSA only.
  if (keyType === 'ed25519')
    throw configError(
      'key_type "ed25519" cannot sign the x509pop challenge; use ecdsa-p256, ecdsa-p384 or rsa-*',
      'key_type',
    );

  const expirationMs =
    r.optionalDuration('expiration', { min: MIN_EXPIRATION_MS, max: MAX_EXPIRATION_MS }) ??
    DEFAULT_EXPIRATION_MS;
  const approvalTimeoutMs =
    r.optionalDuration('approval_timeout', { min: 1000, max: MAX_APPROVAL_TIMEOUT_MS }) ??
    DEFAULT_APPROVAL_TIMEOUT_MS;
  const renewBeforeMs = r.optionalDuration('renew_before');
  if (renewBeforeMs !== undefined && renewBeforeMs >= expirationMs)
    throw configError('renew_before must be shorter than expiration', 'renew_before');
  const identityDir = optionalString('identity_dir') ?? AGENT_ID_DIR;
  const waitMode = r.optionalString('wait') ?? DEFAULT_WAIT_MODE;
  if (!isWaitMode(waitMode))
    throw configError(
      `invalid plugin configuration: wait: must be one of ${WAIT_MODES.map((m) => JSON.stringify(m)).join(', ')}, got ${JSON.stringify(waitMode)}`,
      'wait',
    );
  r.done();

  return {
    cluster,
    kube: {
      ...definedOnly({ kubeconfig, context, server, caCert, clientCert, clientKey, tokenFile }),
      inCluster,
    },
    identity: {
      idDir: identityDir,
      idDirSetting: 'identity_dir',
      nodeName,
      keyType,
      expirationSeconds: Math.round(expirationMs / 1000),
      approvalTimeoutMs,
      // spire-agent asks again at every re-attestation; a fresh identity on disk is reused.
      force: false,
      ...(renewBeforeMs !== undefined ? { renewBeforeMs } : {}),
    },
    waitMode,
  };
}

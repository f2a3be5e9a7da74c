/**
 * The k8s_pod_cert agent plugin's configuration (plugin_data in agent.conf), documented in
 * docs/pod-certificates.md; unknown keys are refused by name.
 */
import { AttestorError } from '../../../errors.js';
import { clusterNameProblem } from '../../../attestation/agent.js';
import { ConfigReader } from '../../host/index.js';
import type { CredentialPaths } from './credential-bundle.js';

/** Where the example DaemonSet mounts the podCertificate volume (credentialBundlePath). */
export const DEFAULT_CREDENTIAL_BUNDLE_PATH = '/var/run/secrets/node-attestor/pod-cert/credentialbundle.pem';

export interface PodCertAgentConfig {
  readonly cluster: string;
  readonly credential: CredentialPaths;
}

const configError = (message: string, key: string): AttestorError =>
  new AttestorError('ERR_CONFIG', message, { details: { key } });

export function parsePodCertAgentConfig(hcl: string): PodCertAgentConfig {
  const r = ConfigReader.parse(hcl);
  const nonEmpty = (key: string): string | undefined => {
    const v = r.optionalString(key);
    if (v?.trim() === '') throw configError(`${key} must not be empty`, key);
    return v;
  };
  const cluster = r.requiredString('cluster');
  const problem = clusterNameProblem(cluster);
  if (problem !== undefined) throw configError(`cluster ${JSON.stringify(cluster)} ${problem}`, 'cluster');
  const bundle = nonEmpty('credential_bundle_path');
  const keyPath = nonEmpty('key_path');
  const chainPath = nonEmpty('certificate_chain_path');
  r.done();
  let credential: CredentialPaths;
  if (keyPath !== undefined || chainPath !== undefined) {
    if (bundle !== undefined)
      throw configError(
        'give credential_bundle_path, or key_path with certificate_chain_path, not both',
        'credential_bundle_path',
      );
    if (keyPath === undefined || chainPath === undefined)
      throw configError(
        'key_path and certificate_chain_path go together',
        keyPath === undefined ? 'key_path' : 'certificate_chain_path',
      );
    credential = { kind: 'split', keyPath, chainPath };
  } else credential = { kind: 'bundle', path: bundle ?? DEFAULT_CREDENTIAL_BUNDLE_PATH };
  return { cluster, credential };
}

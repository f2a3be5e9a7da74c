/**
 * The agent half of k8s_pod_cert: reads the credential the kubelet wrote into the agent's pod
 * (re-read at every attestation: the kubelet refreshes it at beginRefreshAt), sends the chain as
 * an x509pop payload naming the cluster, and proves possession of the key by signing the server's
 * nonce: the same payload and challenge format as k8s_csr. Needs no Kubernetes access at all.
 */
import { answerChallenge, buildAgentPayload } from '../../../attestation/agent.js';
import { AttestorError } from '../../../errors.js';
import type { Logger } from '../../../log/logger.js';
import type {
  AgentAttestation,
  AgentNodeAttestor,
  ConfigureInput,
  ValidateResult,
} from '../../host/index.js';
import { parsePodCertAgentConfig, type PodCertAgentConfig } from './config.js';
import { readCredential } from './credential-bundle.js';

export function createK8sPodCertAgent(logger: Logger): AgentNodeAttestor {
  let current: PodCertAgentConfig | undefined;
  return {
    configure(input: ConfigureInput): Promise<void> {
      current = parsePodCertAgentConfig(input.hcl);
      const c = current.credential;
      logger.info('configured', {
        cluster: current.cluster,
        credential: c.kind === 'bundle' ? c.path : `${c.keyPath} + ${c.chainPath}`,
      });
      return Promise.resolve();
    },

    validate(input: ConfigureInput): Promise<ValidateResult> {
      parsePodCertAgentConfig(input.hcl);
      return Promise.resolve({ valid: true, notes: [] });
    },

    // async: a refusal (not configured, unreadable credential) is a rejection, not a throw.
    // eslint-disable-next-line @typescript-eslint/require-await
    async begin(): Promise<AgentAttestation> {
      const c = current;
      if (c === undefined)
        throw new AttestorError('ERR_NOT_CONFIGURED', 'k8s_pod_cert agent plugin is not configured');
      const cred = readCredential(c.credential);
      logger.debug('sending attestation payload', {
        serial: cred.leaf.serialNumber.toLowerCase(),
        not_after: new Date(cred.leaf.validTo).toISOString(),
      });
      return {
        payload: buildAgentPayload(cred.chainPem, c.cluster),
        answer: (challenge: Buffer) => Promise.resolve(answerChallenge(challenge, cred.privateKey)),
      };
    },
  };
}

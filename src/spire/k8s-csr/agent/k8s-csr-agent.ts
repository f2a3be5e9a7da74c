/**
 * The agent half of k8s_csr: obtains (or reuses, while fresh) the node's identity document through
 * the same obtain flow as the CLI, sends the chain as an x509pop payload, and proves possession
 * of the key by signing the server's nonce.
 */
import { answerChallenge, buildAgentPayload } from '../../../attestation/agent.js';
import { AttestorError, toAttestorError } from '../../../errors.js';
import { obtainIdentity } from '../../../identity/obtain.js';
import { resolveKubeAccess } from '../../../kube/access.js';
import { createCsrClient, type CsrClient } from '../../../kube/csr-client.js';
import type { Logger } from '../../../log/logger.js';
import type {
  AgentAttestation,
  AgentNodeAttestor,
  ConfigureInput,
  ValidateResult,
} from '../../host/index.js';
import { parseAgentConfig, type AgentConfig } from './config.js';

interface Configured {
  readonly config: AgentConfig;
  readonly csrClient: CsrClient;
}

async function load(input: ConfigureInput, env: NodeJS.ProcessEnv, logger: Logger): Promise<Configured> {
  const config = parseAgentConfig(input.hcl, env);
  // Resolving access reads and checks the kubeconfig, CA and client files now, so a bad path
  // fails Configure (and spire-agent's start) instead of the first attestation.
  const access = await resolveKubeAccess({ ...config.kube, env }).catch((err: unknown) => {
    const e = toAttestorError(err);
    throw new AttestorError('ERR_CONFIG', `Kubernetes access: ${e.message}`, {
      cause: e,
      details: e.details,
    });
  });
  for (const w of access.warnings) logger.warn(w);
  logger.info('configured', {
    cluster: config.cluster,
    node: config.identity.nodeName,
    identity_dir: config.identity.idDir,
    kubernetes: access.description,
    wait: config.waitMode,
  });
  return { config, csrClient: createCsrClient(access, { logger, waitMode: config.waitMode }) };
}

export function createK8sCsrAgent(logger: Logger, env: NodeJS.ProcessEnv = process.env): AgentNodeAttestor {
  let current: Configured | undefined;
  return {
    async configure(input: ConfigureInput): Promise<void> {
      const next = await load(input, env, logger);
      const previous = current;
      current = next;
      // In-flight attestations keep the old client; let them finish before closing it.
      if (previous !== undefined)
        setTimeout(() => {
          previous.csrClient.close();
        }, previous.config.identity.approvalTimeoutMs + 10_000).unref();
    },

    async validate(input: ConfigureInput): Promise<ValidateResult> {
      const { csrClient } = await load(input, env, logger);
      csrClient.close();
      return { valid: true, notes: [] };
    },

    async begin(signal: AbortSignal): Promise<AgentAttestation> {
      const c = current;
      if (c === undefined)
        throw new AttestorError('ERR_NOT_CONFIGURED', 'k8s_csr agent plugin is not configured');
      const { config } = c;
      const identity = await obtainIdentity({
        ...config.identity,
        csrClient: c.csrClient,
        logger,
        signal,
        onProgress: (p) => {
          if (p.phase === 'pending')
            logger.info('waiting for approval of the node certificate request', {
              csr: p.csrName,
              hint: `kubectl certificate approve ${p.csrName}`,
            });
        },
      });
      const payload = buildAgentPayload(identity.chainPem, config.cluster);
      logger.debug('sending attestation payload', {
        node: identity.nodeName,
        serial: identity.serialNumber,
        reused: identity.reused,
        not_after: identity.notAfter.toISOString(),
      });
      return {
        payload,
        answer: (challenge: Buffer) => Promise.resolve(answerChallenge(challenge, identity.privateKey)),
      };
    },
  };
}

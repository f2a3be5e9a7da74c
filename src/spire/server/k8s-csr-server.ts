/**
 * The server half of k8s_csr: checks the payload, the chain to the cluster's CA, the node client
 * profile, then one challenge round proving the agent holds the key; returns the agent ID and
 * selectors. Every refusal is an AttestorError whose code maps to the documented gRPC status.
 */
import { beginAttestation } from '../../attestation/verify-attestation.js';
import { AttestorError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type {
  AgentAttributes,
  ConfigureInput,
  ServerAttestContext,
  ServerNodeAttestor,
  ValidateResult,
} from '../types.js';
import { loadServerConfig, type ServerConfig } from './config.js';

export function createK8sCsrServer(logger: Logger): ServerNodeAttestor {
  let current: ServerConfig | undefined;
  return {
    configure(input: ConfigureInput): Promise<void> {
      const next = loadServerConfig(input.hcl, input.trustDomain);
      current = next;
      for (const [cluster, b] of next.bundles)
        logger.info('loaded cluster CA bundle', { cluster, path: b.path, certificates: b.certificates });
      return Promise.resolve();
    },

    validate(input: ConfigureInput): Promise<ValidateResult> {
      loadServerConfig(input.hcl, input.trustDomain);
      return Promise.resolve({ valid: true, notes: [] });
    },

    async attest(payload: Buffer, ctx: ServerAttestContext): Promise<AgentAttributes> {
      const config = current;
      if (config === undefined)
        throw new AttestorError('ERR_NOT_CONFIGURED', 'k8s_csr server plugin is not configured');
      const pending = beginAttestation(config.compiled, payload);
      const response = await ctx.challenge(pending.challenge);
      const result = pending.finish(response);
      logger.info('attested node', {
        cluster: result.cluster,
        node: result.nodeName,
        spiffe_id: result.spiffeId,
        serial: result.leaf.serialNumber.toLowerCase(),
      });
      return { spiffeId: result.spiffeId, selectorValues: result.selectorValues, canReattest: true };
    },
  };
}

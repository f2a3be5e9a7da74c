/**
 * The server half of k8s_csr: checks the payload, the chain to the cluster's CA, the node client
 * profile, then one challenge round proving the agent holds the key; returns the agent ID and
 * selectors. Every refusal is an AttestorError whose code maps to the documented gRPC status.
 */
import { AttestorError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type {
  AgentAttributes,
  ConfigureInput,
  ServerAttestContext,
  ServerNodeAttestor,
  ValidateResult,
} from '../types.js';
import type { ServerConfig } from './engine.js';

type Engine = typeof import('./engine.js');
let engine: Promise<Engine> | undefined;
/** The verification code, loaded on first use (see engine.ts). */
const loadEngine = (): Promise<Engine> => (engine ??= import('./engine.js'));

export function createK8sCsrServer(logger: Logger): ServerNodeAttestor {
  let current: ServerConfig | undefined;
  return {
    // Promise-returning methods reject rather than throw: loadServerConfig is synchronous.
    async configure(input: ConfigureInput): Promise<void> {
      const { loadServerConfig } = await loadEngine();
      return settle(() => {
        const next = loadServerConfig(input.hcl, input.trustDomain);
        current = next;
        for (const [cluster, b] of next.bundles)
          logger.info('loaded cluster CA bundle', { cluster, path: b.path, certificates: b.certificates });
      });
    },

    async validate(input: ConfigureInput): Promise<ValidateResult> {
      const { loadServerConfig } = await loadEngine();
      return settle(() => {
        loadServerConfig(input.hcl, input.trustDomain);
        return { valid: true, notes: [] };
      });
    },

    async attest(payload: Buffer, ctx: ServerAttestContext): Promise<AgentAttributes> {
      const config = current;
      if (config === undefined)
        throw new AttestorError('ERR_NOT_CONFIGURED', 'k8s_csr server plugin is not configured');
      const { beginAttestation } = await loadEngine();
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

/** Runs `fn` and returns its result as a promise that rejects with whatever it throws. */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/**
 * The server half of k8s_csr: checks the payload, the chain to the cluster's CA, the node client
 * profile and the certificate's lifetime and age, then one challenge round (under a deadline and
 * a bound on pending challenges) proving the agent holds the key, and the time-dependent checks
 * again at the response; only then, where the cluster has verify_node, the Node the certificate
 * names must exist (its UID and allow-listed labels become selectors) and, with
 * require_node_address, the agent must connect from one of its addresses. Returns the agent ID
 * and selectors. Every refusal is an AttestorError whose code maps to the documented gRPC status;
 * until the proof of possession has verified, its message tells the caller nothing about the
 * clusters (unproven-caller.ts).
 */
import { AttestorError, toAttestorError } from '../../../errors.js';
import type { KubeClient } from '../../../kube/http.js';
import type { Logger } from '../../../log/logger.js';
import type {
  AgentAttributes,
  ConfigureInput,
  ServerAttestContext,
  ServerNodeAttestor,
  ValidateResult,
} from '../../host/index.js';
import type { PendingAttestation, ProvenAttestation, ServerConfig } from './engine.js';
import { atLeast, hostSpireVersion, type SpireVersion } from './host-version.js';
import { PendingChallenges } from './pending-challenges.js';

type Engine = typeof import('./engine.js');
let engine: Promise<Engine> | undefined;
/** The verification code, loaded on first use (see engine.ts). */
const loadEngine = (): Promise<Engine> => (engine ??= import('./engine.js'));
/**
 * The Kubernetes client, only for clusters with verify_node: it brings the kubeconfig reader and
 * its YAML parser, which a plugin without Node checks would otherwise evaluate and keep in memory.
 */
const loadKube = async (): Promise<
  typeof import('../../../kube/access.js') & typeof import('../../../kube/http.js')
> => ({ ...(await import('../../../kube/access.js')), ...(await import('../../../kube/http.js')) });

interface Configured {
  readonly config: ServerConfig;
  /** One API client per cluster with verify_node. */
  readonly kube: ReadonlyMap<string, KubeClient>;
}

export interface ServerOptions {
  /** How to learn the host SPIRE's version (tests replace it). */
  readonly spireVersion?: () => Promise<SpireVersion | undefined>;
  /** The time every validity, lifetime and age check uses (tests replace it). */
  readonly now?: () => Date;
}

/**
 * The checks that need no cluster: payload, chain, profile, lifetime and age, then the challenge
 * round, then every time-dependent check again at the response, and the signature.
 */
async function proveCaller(
  config: ServerConfig,
  e: Engine,
  payload: Buffer,
  ctx: ServerAttestContext,
  time: { readonly challenges: PendingChallenges; readonly now: () => Date },
): Promise<{ pending: PendingAttestation; proven: ProvenAttestation }> {
  const { challenges, now } = time;
  const pending = await e.withCertificateReader(() =>
    e.beginAttestation(config.compiled, payload, { now: now() }),
  );
  const age = config.policies.get(pending.cluster)?.age;
  if (age !== undefined) e.checkCertificateAge(pending, age, pending.cluster, now());
  const response = await challenges.run((signal) => ctx.challenge(pending.challenge, { signal }));
  const answeredAt = now();
  const proven = await e.withCertificateReader(() => pending.prove(response, { now: answeredAt }));
  if (age !== undefined) e.checkCertificateAge(pending, age, pending.cluster, answeredAt);
  return { pending, proven };
}

export function createK8sCsrServer(logger: Logger, opts: ServerOptions = {}): ServerNodeAttestor {
  const spireVersion = opts.spireVersion ?? (() => hostSpireVersion());
  const now = opts.now ?? (() => new Date());
  let current: Configured | undefined;
  // One per process, across Configures: the bound counts every challenge this plugin has pending.
  const challenges = new PendingChallenges();

  /** Parses plugin_data, reads the CA bundles, resolves each cluster's API access: all or nothing. */
  const prepare = async (input: ConfigureInput): Promise<Configured> => {
    const { loadServerConfig, withCertificateReader } = await loadEngine();
    const config = await withCertificateReader(() => loadServerConfig(input.hcl, input.trustDomain));
    const kube = new Map<string, KubeClient>();
    let needsAddress = false;
    for (const [cluster, policy] of config.policies) {
      if (policy.node === undefined) continue;
      needsAddress ||= policy.node.requireAddress;
      const key = `clusters."${cluster}"`;
      const { resolveKubeAccess, createKubeClient } = await loadKube();
      const access = await resolveKubeAccess(policy.node.kube).catch((err: unknown) => {
        const e = toAttestorError(err);
        throw new AttestorError('ERR_CONFIG', `${key}: Kubernetes access for verify_node: ${e.message}`, {
          cause: e,
          details: { key },
        });
      });
      for (const w of access.warnings) logger.warn(w, { cluster });
      kube.set(cluster, createKubeClient(access, { logger }));
    }
    if (needsAddress) {
      const v = await spireVersion();
      if (v !== undefined && !atLeast(v, 1, 15)) {
        for (const k of kube.values()) k.close();
        throw new AttestorError(
          'ERR_CONFIG',
          `require_node_address needs SPIRE 1.15 or later, which forwards the agent's address to plugins; this spire-server is ${v.text}`,
          { details: { key: 'require_node_address' } },
        );
      }
      if (v === undefined)
        logger.warn(
          'cannot tell which SPIRE version runs this plugin; with require_node_address every attestation fails unless it forwards the agent address (SPIRE 1.15+)',
        );
    }
    return { config, kube };
  };

  return {
    async configure(input: ConfigureInput): Promise<void> {
      const next = await prepare(input);
      const previous = current;
      current = next;
      challenges.setLimits(next.config.challenge);
      for (const [cluster, b] of next.config.bundles) {
        const p = next.config.policies.get(cluster);
        logger.info('loaded cluster CA bundle', {
          cluster,
          path: b.path,
          certificates: b.certificates,
          verify_node: p?.node !== undefined,
          require_node_address: p?.node?.requireAddress ?? false,
        });
      }
      // In-flight attestations may still use the old clients; close them once those are done.
      if (previous !== undefined)
        setTimeout(() => {
          for (const k of previous.kube.values()) k.close();
        }, 60_000).unref();
    },

    async validate(input: ConfigureInput): Promise<ValidateResult> {
      const checked = await prepare(input);
      for (const k of checked.kube.values()) k.close();
      return { valid: true, notes: [] };
    },

    async attest(payload: Buffer, ctx: ServerAttestContext): Promise<AgentAttributes> {
      const c = current;
      if (c === undefined)
        throw new AttestorError('ERR_NOT_CONFIGURED', 'k8s_csr server plugin is not configured');
      const e = await loadEngine();
      // Until the signature has verified, the caller may be anyone with a copy of the certificate.
      const { pending, proven } = await proveCaller(c.config, e, payload, ctx, { challenges, now }).catch(
        (err: unknown) => {
          throw e.forUnprovenCaller(err);
        },
      );
      const cluster = pending.cluster;
      const policy = c.config.policies.get(cluster);
      let node: { uid: string; labels: Record<string, string> } | undefined;
      let address: string | undefined;
      const kube = c.kube.get(cluster);
      if (policy?.node !== undefined && kube !== undefined) {
        const facts = await e.lookupNode(kube, pending.nodeName, cluster, ctx.signal);
        if (policy.node.requireAddress) address = e.checkNodeAddress(ctx.metadata, facts, cluster);
        node = { uid: facts.uid, labels: e.allowedLabels(facts, policy.node.labelKeys) };
      }
      const result = proven.identify(node);
      logger.info('attested node', {
        cluster: result.cluster,
        node: result.nodeName,
        spiffe_id: result.spiffeId,
        serial: result.leaf.serialNumber.toLowerCase(),
        node_uid: node?.uid,
        agent_address: address,
      });
      return { spiffeId: result.spiffeId, selectorValues: result.selectorValues, canReattest: true };
    },
  };
}

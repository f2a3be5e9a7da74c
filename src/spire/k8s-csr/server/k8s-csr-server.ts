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
import { AttestorError } from '../../../errors.js';
import type { Logger } from '../../../log/logger.js';
import type { ConfigureInput, ServerNodeAttestor } from '../../host/index.js';
import {
  clusterAttestorServer,
  openClusterClients,
  proveCaller,
  type Configured,
} from '../../attestor-server/server.js';
import type { ServerConfig } from './engine.js';
import { atLeast, hostSpireVersion, type SpireVersion } from './host-version.js';

type Engine = typeof import('./engine.js');
let engine: Promise<Engine> | undefined;
/** The verification code, loaded on first use (see engine.ts). */
const loadEngine = (): Promise<Engine> => (engine ??= import('./engine.js'));

export interface ServerOptions {
  /** How to learn the host SPIRE's version (tests replace it). */
  readonly spireVersion?: () => Promise<SpireVersion | undefined>;
  /** The time every validity, lifetime and age check uses (tests replace it). */
  readonly now?: () => Date;
}

export function createK8sCsrServer(logger: Logger, opts: ServerOptions = {}): ServerNodeAttestor {
  const spireVersion = opts.spireVersion ?? (() => hostSpireVersion());
  const now = opts.now ?? (() => new Date());

  const prepare = async (input: ConfigureInput): Promise<Configured<ServerConfig>> => {
    const { loadServerConfig, withCertificateReader } = await loadEngine();
    const config = await withCertificateReader(() => loadServerConfig(input.hcl, input.trustDomain));
    const checked = [...config.policies].flatMap(([cluster, p]) =>
      p.node === undefined ? [] : [[cluster, p.node] as const],
    );
    const kube = await openClusterClients(
      checked.map(([cluster, node]) => [cluster, node.kube] as const),
      'verify_node',
      logger,
    );
    if (checked.some(([, node]) => node.requireAddress)) {
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

  return clusterAttestorServer({
    name: 'k8s_csr',
    prepare,
    loaded: ({ config }) => {
      for (const [cluster, b] of config.bundles) {
        const p = config.policies.get(cluster);
        logger.info('loaded cluster CA bundle', {
          cluster,
          path: b.path,
          certificates: b.certificates,
          verify_node: p?.node !== undefined,
          require_node_address: p?.node?.requireAddress ?? false,
        });
      }
    },
    async attest(c, payload, ctx, challenges) {
      const e = await loadEngine();
      const { pending, proven } = await proveCaller(e, c.config.compiled, payload, ctx, {
        challenges,
        now,
        // The certificate's lifetime and age, where the cluster bounds them.
        check: (p) => {
          const age = c.config.policies.get(p.cluster)?.age;
          return age === undefined
            ? undefined
            : (at) => {
                e.checkCertificateAge(p, age, p.cluster, at);
              };
        },
      });
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
  });
}

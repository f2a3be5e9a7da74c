/**
 * The server half of k8s_pod_cert: the payload's chain must verify to the cluster's signer CA
 * bundle, the leaf must be exactly the signer's profile for the configured signer name
 * (src/attestation/pod-cert-profile.ts), then one challenge round under a deadline and a bound on pending
 * challenges (the k8s_csr plugin's PendingChallenges) proves the agent holds the key, and the
 * validity is checked again at the response. Only then the cluster is asked: the Node named in the
 * certificate exists with the certificate's node UID (verify_node, default on) and, with
 * verify_pod, the Pod still exists, with the same UID, on that node, not terminating. Refusals
 * before the proof tell the caller nothing about this server's clusters (unproven-caller.ts).
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
import { PendingChallenges } from '../../k8s-csr/server/pending-challenges.js';
import type { PodIdentity } from '../../../pod-cert/identity.js';
import type { PodCertServerConfig } from './config.js';

type Engine = typeof import('./engine.js');
let engine: Promise<Engine> | undefined;
/** The verification code, loaded on first use (see engine.ts). */
const loadEngine = (): Promise<Engine> => (engine ??= import('./engine.js'));

interface Configured {
  readonly config: PodCertServerConfig;
  readonly kube: ReadonlyMap<string, KubeClient>;
}

export interface PodCertServerOptions {
  readonly now?: () => Date;
}

/** The pod selectors, beside the node ones every attestation gets. */
export function podSelectorValues(pod: PodIdentity): string[] {
  return [
    `agent_pod_uid:${pod.podUID}`,
    `agent_pod_name:${pod.namespace}/${pod.podName}`,
    `agent_service_account:${pod.namespace}/${pod.serviceAccountName}`,
  ];
}

export function createK8sPodCertServer(logger: Logger, opts: PodCertServerOptions = {}): ServerNodeAttestor {
  const now = opts.now ?? (() => new Date());
  let current: Configured | undefined;
  const challenges = new PendingChallenges();

  const prepare = async (input: ConfigureInput): Promise<Configured> => {
    const e = await loadEngine();
    const config = await e.withCertificateReader(() =>
      e.loadPodCertServerConfig(input.hcl, input.trustDomain),
    );
    const kube = new Map<string, KubeClient>();
    const { resolveKubeAccess } = await import('../../../kube/access.js');
    const { createKubeClient } = await import('../../../kube/http.js');
    for (const [cluster, policy] of config.policies) {
      if (policy.api === undefined) continue;
      const key = `clusters."${cluster}"`;
      const access = await resolveKubeAccess(policy.api.kube).catch((err: unknown) => {
        for (const k of kube.values()) k.close();
        const e = toAttestorError(err);
        throw new AttestorError(
          'ERR_CONFIG',
          `${key}: Kubernetes access for verify_node/verify_pod: ${e.message}`,
          {
            cause: e,
            details: { key },
          },
        );
      });
      for (const w of access.warnings) logger.warn(w, { cluster });
      kube.set(cluster, createKubeClient(access, { logger }));
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
        logger.info('loaded signer CA bundle', {
          cluster,
          path: b.path,
          certificates: b.certificates,
          signer_name: p?.signerName,
          verify_node: p?.api?.verifyNode ?? false,
          verify_pod: p?.api?.verifyPod ?? false,
        });
      }
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
        throw new AttestorError('ERR_NOT_CONFIGURED', 'k8s_pod_cert server plugin is not configured');
      const e = await loadEngine();
      const { pending, proven } = await (async () => {
        const p = await e.withCertificateReader(() =>
          e.beginAttestation(c.config.compiled, payload, { now: now() }),
        );
        const response = await challenges.run((signal) => ctx.challenge(p.challenge, { signal }));
        const answeredAt = now();
        return {
          pending: p,
          proven: await e.withCertificateReader(() => p.prove(response, { now: answeredAt })),
        };
      })().catch((err: unknown) => {
        throw e.forUnprovenCaller(err);
      });
      const pod = pending.pod;
      if (pod === undefined)
        throw new AttestorError('ERR_INTERNAL', 'the pod-certificate profile returned no pod identity');
      const cluster = pending.cluster;
      const api = c.config.policies.get(cluster)?.api;
      const kube = c.kube.get(cluster);
      let labels: Record<string, string> = {};
      if (api !== undefined && kube !== undefined) {
        if (api.verifyNode)
          labels = e.allowedLabels(await e.verifyNodeUid(kube, pod, cluster, ctx.signal), api.labelKeys);
        if (api.verifyPod) await e.verifyPod(kube, pod, cluster, ctx.signal);
      }
      const result = proven.identify({ uid: pod.nodeUID, labels });
      const selectorValues = [...new Set([...result.selectorValues, ...podSelectorValues(pod)])].sort();
      logger.info('attested node', {
        cluster,
        node: pod.nodeName,
        node_uid: pod.nodeUID,
        pod: `${pod.namespace}/${pod.podName}`,
        pod_uid: pod.podUID,
        spiffe_id: result.spiffeId,
        serial: result.leaf.serialNumber.toLowerCase(),
      });
      return { spiffeId: result.spiffeId, selectorValues, canReattest: true };
    },
  };
}

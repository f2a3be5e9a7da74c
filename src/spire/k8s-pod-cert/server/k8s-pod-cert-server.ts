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
import { AttestorError } from '../../../errors.js';
import type { Logger } from '../../../log/logger.js';
import type { ConfigureInput, ServerNodeAttestor } from '../../host/index.js';
import {
  clusterAttestorServer,
  openClusterClients,
  proveCaller,
  type Configured,
} from '../../attestor-server/server.js';
import type { PodIdentity } from '../../../pod-cert/identity.js';
import type { PodCertServerConfig } from './config.js';

type Engine = typeof import('./engine.js');
let engine: Promise<Engine> | undefined;
/** The verification code, loaded on first use (see engine.ts). */
const loadEngine = (): Promise<Engine> => (engine ??= import('./engine.js'));

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

  const prepare = async (input: ConfigureInput): Promise<Configured<PodCertServerConfig>> => {
    const e = await loadEngine();
    const config = await e.withCertificateReader(() =>
      e.loadPodCertServerConfig(input.hcl, input.trustDomain),
    );
    const kube = await openClusterClients(
      [...config.policies].flatMap(([cluster, p]) =>
        p.api === undefined ? [] : [[cluster, p.api.kube] as const],
      ),
      'verify_node/verify_pod',
      logger,
    );
    return { config, kube };
  };

  return clusterAttestorServer({
    name: 'k8s_pod_cert',
    prepare,
    loaded: ({ config }) => {
      for (const [cluster, b] of config.bundles) {
        const p = config.policies.get(cluster);
        logger.info('loaded signer CA bundle', {
          cluster,
          path: b.path,
          certificates: b.certificates,
          signer_name: p?.signerName,
          verify_node: p?.api?.verifyNode ?? false,
          verify_pod: p?.api?.verifyPod ?? false,
        });
      }
    },
    async attest(c, payload, ctx, challenges) {
      const e = await loadEngine();
      const { pending, proven } = await proveCaller(e, c.config.compiled, payload, ctx, { challenges, now });
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
  });
}

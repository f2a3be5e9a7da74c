/**
 * Wires the approver together and runs it until `signal` aborts: Kubernetes access → the
 * controllers' shared run loop (../controller/run-loop.ts: health server, informer, leader
 * election) around the CSR informer and controller.
 */
import { NODE_CLIENT_SIGNER } from '../csr/profile.js';
import { createKubeClient } from '../kube/http.js';
import type { Logger } from '../log/logger.js';
import { ApproverController } from './controller.js';
import { CsrInformer } from './informer.js';
import { resolveControllerAccess, runControllerLoop } from '../controller/run-loop.js';
import { kubeLookups } from './lookups.js';
import { createApproverMetrics, type ApproverMetrics } from './metrics.js';
import type { ApproverSettings } from './settings.js';

export interface RunApproverDeps {
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Test seams: the environment for in-cluster detection, and faster timings. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly serviceAccountDir?: string;
  readonly watchTimeoutSeconds?: number;
  /** Called once serving, with what tests and operators want to know. */
  readonly onStarted?: (info: { readonly url: string; readonly metrics: ApproverMetrics }) => void;
}

export async function runApprover(o: ApproverSettings, d: RunApproverDeps): Promise<void> {
  const log = d.logger;
  const access = await resolveControllerAccess(o, d, log);
  log.info('starting the node-bound CSR approver', {
    kubernetes: access.description,
    allowRequesters: o.allowRequesters.join(','),
    leaderElection: o.leaderElect ? `${o.leaseNamespace}/${o.leaseName} as ${o.leaderIdentity}` : 'off',
  });

  const kube = createKubeClient(access, { logger: log, userAgent: 'node-attestor-approver' });
  const metrics = await createApproverMetrics();
  await runControllerLoop({
    settings: o,
    kube,
    metrics,
    logger: log,
    signal: d.signal,
    noun: 'CSR',
    build: ({ isLeader, informerHandlers }) => {
      const ctl = new ApproverController({
        kube,
        metrics,
        allowRequesters: new Set(o.allowRequesters),
        decide: {
          lookups: kubeLookups(kube),
          allowNodeBoundTokens: o.allowNodeBoundTokens,
          podLookup: o.podLookup,
          maxExpirationMs: o.maxExpirationMs,
        },
        workers: o.workers,
        isLeader,
        lookup: (name) => inf.get(name),
        logger: log,
        ...(o.recordEvents ? { eventInstance: o.leaderIdentity } : {}),
      });
      const inf = new CsrInformer(
        kube,
        {
          ...informerHandlers,
          onUpsert: (e) => {
            ctl.observe(e);
          },
          onDelete: (csr) => {
            ctl.forget(csr);
          },
        },
        {
          signerName: NODE_CLIENT_SIGNER,
          logger: log,
          ...(d.watchTimeoutSeconds === undefined ? {} : { watchTimeoutSeconds: d.watchTimeoutSeconds }),
        },
      );
      return {
        informer: inf,
        controller: ctl,
        requeueAll: () => {
          ctl.requeueAll(inf.entries());
        },
      };
    },
    onStarted: (url) => d.onStarted?.({ url, metrics }),
  });
}

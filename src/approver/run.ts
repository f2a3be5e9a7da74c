/**
 * Wires the approver together and runs it until `signal` aborts: Kubernetes access → health
 * server → informer (every replica) + leader election + controller (acts only while leading).
 * On abort the controller stops first, then the Lease is released, then the servers close.
 */
import { AttestorError } from '../errors.js';
import { NODE_CLIENT_SIGNER } from '../csr/profile.js';
import { resolveKubeAccess } from '../kube/access.js';
import { createKubeClient } from '../kube/http.js';
import type { Logger } from '../log/logger.js';
import { ApproverController } from './controller.js';
import { startHealthServer } from '../controller/health-server.js';
import { CsrInformer } from './informer.js';
import { LeaderElector } from '../controller/lease.js';
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
  const access = await resolveKubeAccess({
    ...o,
    ...(d.env !== undefined ? { env: d.env } : {}),
    ...(d.serviceAccountDir !== undefined ? { serviceAccountDir: d.serviceAccountDir } : {}),
  });
  for (const w of access.warnings) log.warn(w);
  log.info('starting the node-bound CSR approver', {
    kubernetes: access.description,
    allowRequesters: o.allowRequesters.join(','),
    leaderElection: o.leaderElect ? `${o.leaseNamespace}/${o.leaseName} as ${o.leaderIdentity}` : 'off',
  });

  const kube = createKubeClient(access, { logger: log, userAgent: 'node-attestor-approver' });
  const metrics = await createApproverMetrics();
  const inner = new AbortController();
  const stop = (): void => {
    inner.abort();
  };
  d.signal.addEventListener('abort', stop, { once: true });
  if (d.signal.aborted) stop();

  // The callbacks refer to `ctl` and `inf`, created below; none runs before both exist.
  const elector = o.leaderElect
    ? new LeaderElector(kube, {
        namespace: o.leaseNamespace,
        name: o.leaseName,
        identity: o.leaderIdentity,
        leaseDurationMs: o.leaseDurationMs,
        renewDeadlineMs: o.renewDeadlineMs,
        retryPeriodMs: o.retryPeriodMs,
        logger: log,
        onStartedLeading: () => {
          metrics.leader.set(1);
          ctl.requeueAll(inf.entries());
        },
        onStoppedLeading: () => {
          metrics.leader.set(0);
        },
        onError: () => {
          metrics.errors.inc({ kind: 'lease' });
        },
      })
    : undefined;
  // Stepping down is noticed by isLeader() at once, even before the elector's loop wakes.
  const isLeader = elector === undefined ? () => true : () => elector.isLeader();
  const leaderGauge = (): void => {
    metrics.leader.set(isLeader() ? 1 : 0);
  };
  leaderGauge();

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
      onUpsert: (e) => {
        ctl.observe(e);
      },
      onDelete: (csr) => {
        ctl.forget(csr);
      },
      onSync: () => {
        metrics.synced.set(1);
      },
      onError: (stage) => {
        metrics.errors.inc({ kind: stage });
      },
    },
    {
      signerName: NODE_CLIENT_SIGNER,
      logger: log,
      ...(d.watchTimeoutSeconds === undefined ? {} : { watchTimeoutSeconds: d.watchTimeoutSeconds }),
    },
  );

  let health: Awaited<ReturnType<typeof startHealthServer>>;
  try {
    health = await startHealthServer(o.httpAddress, {
      ready: () => inf.synced,
      notReadyReason: 'the CSR cache has not synced',
      metrics: () => {
        leaderGauge();
        return metrics.registry.metrics();
      },
    });
  } catch (err) {
    kube.close();
    throw err;
  }
  log.info(`serving /healthz, /readyz and /metrics on ${health.url}`, { url: health.url });
  d.onStarted?.({ url: health.url, metrics });

  let fatal: unknown;
  const informerDone = inf.run(inner.signal).catch((err: unknown) => {
    fatal = err;
    inner.abort();
  });
  const controllerDone = ctl.run(inner.signal);
  const electorDone = elector?.run(inner.signal) ?? Promise.resolve();
  try {
    await Promise.all([informerDone, controllerDone, electorDone]);
  } finally {
    d.signal.removeEventListener('abort', stop);
    metrics.leader.set(0);
    await health.close();
    kube.close();
  }
  if (fatal !== undefined) {
    throw fatal instanceof AttestorError
      ? fatal
      : new AttestorError(
          'ERR_INTERNAL',
          fatal instanceof Error ? fatal.message : 'the CSR informer failed',
          {
            cause: fatal,
          },
        );
  }
  log.info('stopped');
}

/**
 * The run loop every controller (the approver, the signer) shares once its Kubernetes client and
 * metrics exist: health server → informer (every replica) + leader election + controller (acts
 * only while leading), until `signal` aborts. On abort the controller stops first, then the Lease
 * is released, then the servers close; the Kubernetes client is closed last.
 */
import type { Counter, Gauge, Registry } from 'prom-client';
import { AttestorError } from '../errors.js';
import { resolveKubeAccess, type KubeAccess, type KubeAccessOptions } from '../kube/access.js';
import type { KubeClient } from '../kube/http.js';
import type { Logger } from '../log/logger.js';
import { startHealthServer } from './health-server.js';
import { LeaderElector } from './lease.js';
import type { InformerHandlers } from './list-watch.js';
import type { ControllerSettings } from './settings.js';

/** The families the loop itself keeps (../controller/metrics.ts makes them). */
export interface LoopMetrics {
  readonly registry: Registry;
  readonly errors: Counter<'kind'>;
  readonly leader: Gauge;
  readonly synced: Gauge;
}

/** What a controller builds from the loop's wiring. */
export interface LoopParts {
  readonly informer: { readonly synced: boolean; run(signal: AbortSignal): Promise<void> };
  readonly controller: { run(signal: AbortSignal): Promise<void> };
  /** On becoming leader: queue every cached object again. */
  readonly requeueAll: () => void;
}

export interface LoopWiring {
  /** Stepping down is noticed at once, even before the elector's loop wakes. */
  readonly isLeader: () => boolean;
  /** The informer's sync and error handlers, feeding the loop's metrics. */
  readonly informerHandlers: Pick<InformerHandlers<unknown>, 'onSync' | 'onError'>;
}

export interface ControllerLoop {
  readonly settings: ControllerSettings;
  readonly kube: KubeClient;
  readonly metrics: LoopMetrics;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** What the informer caches, for messages (e.g. "CSR"). */
  readonly noun: string;
  /** Called once, before anything runs; the parts' callbacks may run only after it returns. */
  readonly build: (w: LoopWiring) => LoopParts;
  /** Called once serving. */
  readonly onStarted?: (url: string) => void;
}

/** A controller run's test seams for Kubernetes access (../kube/access.ts). */
export type KubeSeams = Pick<KubeAccessOptions, 'env' | 'serviceAccountDir'>;

/** The controller's Kubernetes access, its warnings logged. */
export async function resolveControllerAccess(
  o: KubeAccessOptions,
  seams: KubeSeams,
  log: Logger,
): Promise<KubeAccess> {
  const access = await resolveKubeAccess({
    ...o,
    ...(seams.env !== undefined ? { env: seams.env } : {}),
    ...(seams.serviceAccountDir !== undefined ? { serviceAccountDir: seams.serviceAccountDir } : {}),
  });
  for (const w of access.warnings) log.warn(w);
  return access;
}

export async function runControllerLoop(l: ControllerLoop): Promise<void> {
  const { settings: o, kube, metrics, logger: log } = l;
  const inner = new AbortController();
  const stop = (): void => {
    inner.abort();
  };
  l.signal.addEventListener('abort', stop, { once: true });
  if (l.signal.aborted) stop();

  // The callbacks refer to `parts`, built below; none runs before it exists.
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
          parts.requeueAll();
        },
        onStoppedLeading: () => {
          metrics.leader.set(0);
        },
        onError: () => {
          metrics.errors.inc({ kind: 'lease' });
        },
      })
    : undefined;
  const isLeader = elector === undefined ? () => true : () => elector.isLeader();
  const leaderGauge = (): void => {
    metrics.leader.set(isLeader() ? 1 : 0);
  };
  leaderGauge();

  const parts = l.build({
    isLeader,
    informerHandlers: {
      onSync: () => {
        metrics.synced.set(1);
      },
      onError: (stage) => {
        metrics.errors.inc({ kind: stage });
      },
    },
  });
  const inf = parts.informer;

  let health: Awaited<ReturnType<typeof startHealthServer>>;
  try {
    health = await startHealthServer(o.httpAddress, {
      ready: () => inf.synced,
      notReadyReason: `the ${l.noun} cache has not synced`,
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
  l.onStarted?.(health.url);

  let fatal: unknown;
  const informerDone = inf.run(inner.signal).catch((err: unknown) => {
    fatal = err;
    inner.abort();
  });
  const controllerDone = parts.controller.run(inner.signal);
  const electorDone = elector?.run(inner.signal) ?? Promise.resolve();
  try {
    await Promise.all([informerDone, controllerDone, electorDone]);
  } finally {
    l.signal.removeEventListener('abort', stop);
    metrics.leader.set(0);
    await health.close();
    kube.close();
  }
  if (fatal !== undefined)
    throw fatal instanceof AttestorError
      ? fatal
      : new AttestorError(
          'ERR_INTERNAL',
          fatal instanceof Error ? fatal.message : `the ${l.noun} informer failed`,
          { cause: fatal },
        );
  log.info('stopped');
}

/**
 * Wires the signer together and runs it until `signal` aborts: Kubernetes access → CA source →
 * health server → informer (every replica) + leader election + controller (acts only while
 * leading). The same shape as the approver (../approver/run.ts), on the shared pieces in
 * ../controller/.
 */
import { AttestorError } from '../errors.js';
import { resolveKubeAccess } from '../kube/access.js';
import { createKubeClient, type KubeClient } from '../kube/http.js';
import type { Logger } from '../log/logger.js';
import { startHealthServer } from '../controller/health-server.js';
import { LeaderElector } from '../controller/lease.js';
import { ListWatchInformer } from '../controller/list-watch.js';
import { fileCaSource, secretCaSource, type CaSource } from './ca.js';
import { SignerController } from './controller.js';
import { createSignerMetrics, type SignerMetrics } from './metrics.js';
import { PCR_API_PATH, parsePcrObject, pcrKey, type PcrEntry } from './pcr-api.js';
import type { PodFacts } from './policy.js';
import type { SignerSettings } from './settings.js';

export interface RunSignerDeps {
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly serviceAccountDir?: string;
  readonly watchTimeoutSeconds?: number;
  readonly onStarted?: (info: { readonly url: string; readonly metrics: SignerMetrics }) => void;
}

const statusOf = (err: unknown): number | undefined =>
  err instanceof AttestorError && typeof err.details.status === 'number' ? err.details.status : undefined;

async function getPod(
  kube: KubeClient,
  ns: string,
  name: string,
  signal: AbortSignal,
): Promise<PodFacts | undefined> {
  let raw: unknown;
  try {
    raw = await kube.requestJson(
      'GET',
      `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}`,
      undefined,
      signal,
    );
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
  const o = (raw ?? {}) as { metadata?: Record<string, unknown>; spec?: Record<string, unknown> };
  const labels: Record<string, string> = {};
  const rawLabels = o.metadata?.labels;
  if (typeof rawLabels === 'object' && rawLabels !== null)
    for (const [k, v] of Object.entries(rawLabels)) if (typeof v === 'string') labels[k] = v;
  return {
    uid: typeof o.metadata?.uid === 'string' ? o.metadata.uid : '',
    nodeName: typeof o.spec?.nodeName === 'string' ? o.spec.nodeName : '',
    deleting: typeof o.metadata?.deletionTimestamp === 'string',
    labels,
  };
}

export async function runSigner(o: SignerSettings, d: RunSignerDeps): Promise<void> {
  const log = d.logger;
  const access = await resolveKubeAccess({
    ...o,
    ...(d.env !== undefined ? { env: d.env } : {}),
    ...(d.serviceAccountDir !== undefined ? { serviceAccountDir: d.serviceAccountDir } : {}),
  });
  for (const w of access.warnings) log.warn(w);
  const kube = createKubeClient(access, { logger: log, userAgent: 'node-attestor-signer' });
  const onReloadError = (err: AttestorError): void => {
    log.warn('could not re-read the CA material; signing with the last good one', { error: err.message });
  };
  const caOptions = { reloadMs: o.caReloadMs, onReloadError };
  const ref = o.ca;
  const ca: CaSource =
    ref.kind === 'files'
      ? fileCaSource(ref.certFile, ref.keyFile, caOptions)
      : secretCaSource(
          (signal) =>
            kube.requestJson(
              'GET',
              `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/secrets/${encodeURIComponent(ref.name)}`,
              undefined,
              signal,
            ),
          ref,
          caOptions,
        );
  // The CA material must be readable at start: a signer that cannot sign should not become ready.
  let material;
  try {
    material = await ca.current();
  } catch (err) {
    kube.close();
    throw err;
  }
  log.info('starting the PodCertificateRequest signer', {
    kubernetes: access.description,
    signerName: o.signerName,
    allowServiceAccounts: o.allowServiceAccounts.join(','),
    ca: ca.description,
    caCertificates: material.certificates.length,
    leaderElection: o.leaderElect ? `${o.leaseNamespace}/${o.leaseName} as ${o.leaderIdentity}` : 'off',
  });

  const metrics = await createSignerMetrics();
  const inner = new AbortController();
  const stop = (): void => {
    inner.abort();
  };
  d.signal.addEventListener('abort', stop, { once: true });
  if (d.signal.aborted) stop();

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
  const isLeader = elector === undefined ? () => true : () => elector.isLeader();
  const leaderGauge = (): void => {
    metrics.leader.set(isLeader() ? 1 : 0);
  };
  leaderGauge();

  const ctl = new SignerController({
    kube,
    metrics,
    signerName: o.signerName,
    policy: {
      allowServiceAccounts: new Set(o.allowServiceAccounts),
      requirePodLabels: o.requirePodLabels,
    },
    ca,
    caPublishDelayMs: o.caPublishDelayMs,
    maxExpirationMs: o.maxExpirationMs,
    ...(o.refreshAfterMs === undefined ? {} : { refreshAfterMs: o.refreshAfterMs }),
    workers: o.workers,
    isLeader,
    lookup: (key) => inf.get(key),
    getPod: (ns, name, signal) => getPod(kube, ns, name, signal),
    logger: log,
  });
  const inf = new ListWatchInformer<PcrEntry>(
    kube,
    {
      path: PCR_API_PATH,
      listKind: 'PodCertificateRequestList',
      noun: 'PodCertificateRequest',
      parse: (raw) => ({ pcr: parsePcrObject(raw), raw }),
      key: (e) => pcrKey(e.pcr),
    },
    {
      onUpsert: (e) => {
        ctl.observe(e);
      },
      onDelete: (e) => {
        ctl.forget(e);
      },
      onSync: () => {
        metrics.synced.set(1);
      },
      onError: (stage) => {
        metrics.errors.inc({ kind: stage });
      },
    },
    {
      fieldSelector: `spec.signerName=${o.signerName}`,
      logger: log,
      ...(d.watchTimeoutSeconds === undefined ? {} : { watchTimeoutSeconds: d.watchTimeoutSeconds }),
    },
  );

  let health: Awaited<ReturnType<typeof startHealthServer>>;
  try {
    health = await startHealthServer(o.httpAddress, {
      ready: () => inf.synced,
      notReadyReason: 'the PodCertificateRequest cache has not synced',
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
  if (fatal !== undefined)
    throw fatal instanceof AttestorError
      ? fatal
      : new AttestorError(
          'ERR_INTERNAL',
          fatal instanceof Error ? fatal.message : 'the PodCertificateRequest informer failed',
          {
            cause: fatal,
          },
        );
  log.info('stopped');
}

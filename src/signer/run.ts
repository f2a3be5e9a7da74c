/**
 * Wires the signer together and runs it until `signal` aborts: Kubernetes access → CA source →
 * the controllers' shared run loop (../controller/run-loop.ts: health server, informer, leader
 * election) around the PodCertificateRequest informer and controller.
 */
import { AttestorError } from '../errors.js';
import { createKubeClient, type KubeClient } from '../kube/http.js';
import type { Logger } from '../log/logger.js';
import { ListWatchInformer } from '../controller/list-watch.js';
import { resolveControllerAccess, runControllerLoop } from '../controller/run-loop.js';
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
  const access = await resolveControllerAccess(o, d, log);
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
  await runControllerLoop({
    settings: o,
    kube,
    metrics,
    logger: log,
    signal: d.signal,
    noun: 'PodCertificateRequest',
    build: ({ isLeader, informerHandlers }) => {
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
          ...informerHandlers,
          onUpsert: (e) => {
            ctl.observe(e);
          },
          onDelete: (e) => {
            ctl.forget(e);
          },
        },
        {
          fieldSelector: `spec.signerName=${o.signerName}`,
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

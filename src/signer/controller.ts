/**
 * The signer's control loop: the informer feeds request keys (namespace/name) into a work queue;
 * for each unanswered request the leader judges it (policy.ts), signs when it issues (issue.ts)
 * and writes the answer once (status.ts). Replicas that are not the leader keep the cache warm
 * and do nothing else; one that becomes the leader queues every cached request, so nothing
 * waits for a new event. A request is answered once: the status write is conditional on the
 * resourceVersion judged, and a request already answered (by us earlier, or a previous leader)
 * is never touched again.
 */
import { AttestorError } from '../errors.js';
import type { KubeClient } from '../kube/http.js';
import { silentLogger, type Logger } from '../log/logger.js';
import type { PodIdentity } from '../pod-cert/identity.js';
import { WorkQueue } from '../controller/work-queue.js';
import { chooseSigningCa, type CaSource } from './ca.js';
import { issueCertificate, issueTimes, MIN_LIFETIME_MS } from './issue.js';
import type { SignerMetrics } from './metrics.js';
import { pcrKey, terminalCondition, type PcrEntry, type PcrObject } from './pcr-api.js';
import { judge, needsPod, type PodFacts, type SignerPolicy } from './policy.js';
import { writeAnswer, type Answer } from './status.js';

export interface SignerControllerOptions {
  readonly kube: KubeClient;
  readonly metrics: SignerMetrics;
  readonly signerName: string;
  readonly policy: SignerPolicy;
  readonly ca: CaSource;
  readonly caPublishDelayMs: number;
  readonly maxExpirationMs: number;
  /** beginRefreshAt this long after notBefore; undefined: half the lifetime. */
  readonly refreshAfterMs?: number;
  readonly workers: number;
  readonly isLeader: () => boolean;
  readonly lookup: (key: string) => PcrEntry | undefined;
  /** Reads the Pod (only when the policy needs it); undefined when it does not exist. */
  readonly getPod: (namespace: string, name: string, signal: AbortSignal) => Promise<PodFacts | undefined>;
  readonly logger?: Logger;
  readonly now?: () => number;
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
}

const MAX_REMEMBERED = 50_000;

export class SignerController {
  readonly #o: SignerControllerOptions;
  readonly #log: Logger;
  readonly #queue = new WorkQueue();
  readonly #now: () => number;
  /** UIDs we answered, so a stale cache entry is not answered again. */
  readonly #answered = new Set<string>();

  constructor(o: SignerControllerOptions) {
    this.#o = o;
    this.#log = o.logger ?? silentLogger;
    this.#now = o.now ?? Date.now;
  }

  get queue(): WorkQueue {
    return this.#queue;
  }

  /** A request was added or changed: queue it while it has no answer. */
  observe(entry: PcrEntry): void {
    if (entry.pcr.spec.signerName !== this.#o.signerName) return;
    if (terminalCondition(entry.pcr) !== undefined) return;
    this.#queue.add(pcrKey(entry.pcr));
  }

  forget(entry: PcrEntry): void {
    this.#answered.delete(entry.pcr.metadata.uid);
    this.#queue.forget(pcrKey(entry.pcr));
  }

  requeueAll(entries: readonly PcrEntry[]): void {
    for (const e of entries) this.observe(e);
  }

  run(signal: AbortSignal): Promise<void> {
    return this.#queue.run(
      (key) => this.#process(key, signal),
      {
        concurrency: this.#o.workers,
        ...(this.#o.retryBaseMs === undefined ? {} : { retryBaseMs: this.#o.retryBaseMs }),
        ...(this.#o.retryMaxMs === undefined ? {} : { retryMaxMs: this.#o.retryMaxMs }),
        onError: (key, err, retryInMs) => {
          const e = err instanceof AttestorError ? err : undefined;
          this.#log.warn('could not answer a PodCertificateRequest; will retry', {
            request: key,
            error: err instanceof Error ? err.message : String(err),
            ...(e === undefined ? {} : { code: e.code }),
            retryInMs,
          });
        },
      },
      signal,
    );
  }

  async #answer(pcr: PcrObject, signal: AbortSignal): Promise<Answer> {
    const s = pcr.spec;
    let pod: PodFacts | undefined;
    if (needsPod(this.#o.policy)) {
      try {
        pod = await this.#o.getPod(pcr.metadata.namespace, s.podName, signal);
      } catch (err) {
        this.#o.metrics.errors.inc({ kind: 'lookup' });
        throw err;
      }
    }
    const verdict = judge(pcr, this.#o.policy, pod);
    if (verdict.kind !== 'issue')
      return {
        kind: verdict.kind === 'deny' ? 'denied' : 'failed',
        reason: verdict.reason,
        message: verdict.message,
      };

    let material;
    try {
      material = await this.#o.ca.current(signal);
    } catch (err) {
      this.#o.metrics.errors.inc({ kind: 'ca' });
      throw err;
    }
    const now = new Date(this.#now());
    const choice = chooseSigningCa(material, now, {
      publishDelayMs: this.#o.caPublishDelayMs,
      minRemainingMs: MIN_LIFETIME_MS,
    });
    if (!choice.ok) {
      // Not the request's fault: it stays pending (retried with backoff) until a CA can sign.
      this.#o.metrics.errors.inc({ kind: 'ca' });
      throw new AttestorError('ERR_CONFIG', `no CA may sign now: ${choice.problem}`, {
        details: { input: this.#o.ca.description },
      });
    }
    const times = issueTimes(now, {
      maxLifetimeMs: this.#o.maxExpirationMs,
      requestMaxSeconds: s.maxExpirationSeconds,
      caNotAfter: choice.ca.notAfter,
      ...(this.#o.refreshAfterMs === undefined ? {} : { refreshAfterMs: this.#o.refreshAfterMs }),
    });
    if (times === undefined)
      return {
        kind: 'failed',
        reason: 'NoUsableCA',
        message: 'the signing CA expires within the hour a certificate must at least last',
      };
    const identity: PodIdentity = {
      signerName: s.signerName,
      nodeName: s.nodeName,
      nodeUID: s.nodeUID,
      namespace: pcr.metadata.namespace,
      podName: s.podName,
      podUID: s.podUID,
      serviceAccountName: s.serviceAccountName,
      serviceAccountUID: s.serviceAccountUID,
    };
    try {
      const chainPem = issueCertificate(choice.ca, verdict.key.spki, identity, times);
      return { kind: 'issued', chainPem, times };
    } catch (err) {
      this.#o.metrics.errors.inc({ kind: 'sign' });
      throw err;
    }
  }

  #remember(uid: string): void {
    if (this.#answered.size >= MAX_REMEMBERED) {
      const first = this.#answered.values().next();
      if (first.done !== true) this.#answered.delete(first.value);
    }
    this.#answered.add(uid);
  }

  async #process(key: string, signal: AbortSignal): Promise<void> {
    const entry = this.#o.lookup(key);
    if (entry === undefined || !this.#o.isLeader()) return;
    const pcr = entry.pcr;
    if (this.#answered.has(pcr.metadata.uid) || terminalCondition(pcr) !== undefined) return;
    const answer = await this.#answer(pcr, signal);
    // Leadership may have moved while we looked things up and signed.
    if (!this.#o.isLeader()) return;
    let outcome: Awaited<ReturnType<typeof writeAnswer>>;
    try {
      outcome = await writeAnswer(this.#o.kube, entry, answer, { now: new Date(this.#now()), signal });
    } catch (err) {
      this.#o.metrics.errors.inc({ kind: 'status' });
      throw err;
    }
    if (outcome.kind === 'written') {
      this.#remember(pcr.metadata.uid);
      this.#record(pcr, answer);
    } else if (outcome.kind === 'stale') {
      this.#o.metrics.conflicts.inc();
      this.#log.info(
        'PodCertificateRequest changed before our answer was written; waiting for the newer version',
        {
          request: key,
        },
      );
    }
  }

  #record(pcr: PcrObject, a: Answer): void {
    const created = Date.parse(pcr.metadata.creationTimestamp ?? '');
    if (!Number.isNaN(created))
      this.#o.metrics.latency.observe({ outcome: a.kind }, Math.max(0, (this.#now() - created) / 1000));
    const fields = {
      request: pcrKey(pcr),
      pod: `${pcr.metadata.namespace}/${pcr.spec.podName}`,
      pod_uid: pcr.spec.podUID,
      node: pcr.spec.nodeName,
      node_uid: pcr.spec.nodeUID,
      service_account: pcr.spec.serviceAccountName,
    };
    if (a.kind === 'issued') {
      this.#o.metrics.issued.inc();
      this.#log.info(`issued a certificate for ${fields.pod} on node ${fields.node}`, {
        ...fields,
        not_after: a.times.notAfter.toISOString(),
      });
    } else {
      (a.kind === 'denied' ? this.#o.metrics.denied : this.#o.metrics.failed).inc({ reason: a.reason });
      this.#log.warn(`${a.kind} PodCertificateRequest ${fields.request}: ${a.reason}: ${a.message}`, fields);
    }
  }
}

/**
 * The approver's control loop: the informer feeds CSR names into a work queue; for each pending
 * CSR from an allow-listed requester the leader decides (decide.ts) and writes the decision once
 * (approval.ts). Replicas that are not the leader keep the cache warm and do nothing else; when
 * one becomes the leader it queues every pending CSR, so nothing waits for a new event.
 */
import { AttestorError } from '../errors.js';
import type { CsrObject } from '../kube/csr-api.js';
import type { KubeClient } from '../kube/http.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { writeDecision } from './approval.js';
import { decide, triage, type Decision, type DecideOptions } from './decide.js';
import { recordDecisionEvent } from './events.js';
import type { CsrEntry } from './informer.js';
import type { ApproverMetrics } from './metrics.js';
import { WorkQueue } from '../controller/work-queue.js';

export interface ControllerOptions {
  readonly kube: KubeClient;
  readonly metrics: ApproverMetrics;
  readonly allowRequesters: ReadonlySet<string>;
  readonly decide: Omit<DecideOptions, 'signal'>;
  readonly workers: number;
  /** Whether this replica may act now (the leader; always true without leader election). */
  readonly isLeader: () => boolean;
  /** The informer's cache. */
  readonly lookup: (name: string) => CsrEntry | undefined;
  readonly logger?: Logger;
  readonly now?: () => number;
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /** Record an Event on each decided CSR as this instance (kubectl describe csr shows it); off when undefined. */
  readonly eventInstance?: string;
}

/** How many times one run re-decides a CSR that changed under us but stayed pending. */
const MAX_CHANGED_ROUNDS = 3;
/** Bounds the memory of CSR UIDs we have decided or counted as ignored. */
const MAX_REMEMBERED = 50_000;

export class ApproverController {
  readonly #o: ControllerOptions;
  readonly #log: Logger;
  readonly #queue = new WorkQueue();
  readonly #now: () => number;
  /** UIDs we decided (so a stale cache entry is not decided again) or counted as ignored. */
  readonly #decided = new Set<string>();
  readonly #ignored = new Set<string>();

  constructor(o: ControllerOptions) {
    this.#o = o;
    this.#log = o.logger ?? silentLogger;
    this.#now = o.now ?? Date.now;
  }

  get queue(): WorkQueue {
    return this.#queue;
  }

  /** A CSR was added or changed: queue it if it may need a decision (or an ignored count). */
  observe(entry: CsrEntry): void {
    const csr = entry.csr;
    const t = triage(csr, this.#o.allowRequesters);
    if (
      t.kind === 'own' ||
      (t.why === 'requester' && !this.#ignored.has(csr.metadata.uid ?? csr.metadata.name))
    )
      this.#queue.add(csr.metadata.name);
  }

  forget(csr: CsrObject): void {
    const uid = csr.metadata.uid ?? csr.metadata.name;
    this.#decided.delete(uid);
    this.#ignored.delete(uid);
    this.#queue.forget(csr.metadata.name);
  }

  /** Queues every cached CSR (after becoming the leader, or after a re-LIST). */
  requeueAll(entries: readonly CsrEntry[]): void {
    for (const e of entries) this.observe(e);
  }

  run(signal: AbortSignal): Promise<void> {
    return this.#queue.run(
      (name) => this.#process(name, signal),
      {
        concurrency: this.#o.workers,
        ...(this.#o.retryBaseMs === undefined ? {} : { retryBaseMs: this.#o.retryBaseMs }),
        ...(this.#o.retryMaxMs === undefined ? {} : { retryMaxMs: this.#o.retryMaxMs }),
        onError: (key, err, retryInMs) => {
          const e = err instanceof AttestorError ? err : undefined;
          this.#log.warn('could not decide a CSR; will retry', {
            csr: key,
            error: err instanceof Error ? err.message : String(err),
            ...(e === undefined ? {} : { code: e.code }),
            retryInMs,
          });
        },
      },
      signal,
    );
  }

  #remember(set: Set<string>, uid: string): void {
    if (set.size >= MAX_REMEMBERED) {
      const first = set.values().next();
      if (first.done !== true) set.delete(first.value);
    }
    set.add(uid);
  }

  async #process(name: string, signal: AbortSignal): Promise<void> {
    let entry = this.#o.lookup(name);
    for (let round = 0; entry !== undefined && round < MAX_CHANGED_ROUNDS; round++) {
      // Not the leader: do nothing now; becoming the leader requeues everything.
      if (!this.#o.isLeader()) return;
      const csr = entry.csr;
      const uid = csr.metadata.uid ?? name;
      if (this.#decided.has(uid)) return;
      const t = triage(csr, this.#o.allowRequesters);
      if (t.kind === 'ignore') {
        if (t.why === 'requester' && !this.#ignored.has(uid)) {
          this.#remember(this.#ignored, uid);
          this.#o.metrics.ignored.inc({ reason: 'requester_not_allowed' });
          this.#log.debug('left a CSR alone: requester not allow-listed', {
            csr: name,
            requester: csr.spec.username ?? '',
          });
        }
        return;
      }

      let decision: Decision;
      try {
        decision = await decide(csr, { ...this.#o.decide, signal });
      } catch (err) {
        this.#o.metrics.errors.inc({ kind: 'lookup' });
        throw err;
      }
      // Leadership may have moved while we looked things up.
      if (!this.#o.isLeader()) return;

      let outcome: Awaited<ReturnType<typeof writeDecision>>;
      try {
        outcome = await writeDecision(this.#o.kube, entry, decision, { now: new Date(this.#now()), signal });
      } catch (err) {
        this.#o.metrics.errors.inc({ kind: 'approval' });
        throw err;
      }
      switch (outcome.kind) {
        case 'written':
          this.#remember(this.#decided, uid);
          this.#record(csr, decision);
          this.#event(csr, decision);
          return;
        case 'gone':
          return;
        case 'settled-elsewhere':
          this.#o.metrics.conflicts.inc();
          this.#log.info('CSR was decided by someone else first; left as it is', { csr: name });
          return;
        case 'changed':
          this.#o.metrics.conflicts.inc();
          entry = outcome.entry;
          break;
      }
    }
    if (entry !== undefined)
      throw new AttestorError('ERR_KUBE_API', `CSR ${name} kept changing while we decided it`);
  }

  #event(csr: CsrObject, d: Decision): void {
    const instance = this.#o.eventInstance;
    if (instance === undefined) return;
    recordDecisionEvent(this.#o.kube, csr, d, { instance, now: new Date(this.#now()) }).catch(
      (err: unknown) => {
        this.#o.metrics.errors.inc({ kind: 'event' });
        this.#log.warn('could not record an Event for a decision (the decision stands)', {
          csr: csr.metadata.name,
          error: err instanceof Error ? err.message : String(err),
        });
      },
    );
  }

  #record(csr: CsrObject, d: Decision): void {
    const created = Date.parse(csr.metadata.creationTimestamp ?? '');
    const label = d.kind === 'approve' ? 'approved' : 'denied';
    if (!Number.isNaN(created))
      this.#o.metrics.latency.observe({ decision: label }, Math.max(0, (this.#now() - created) / 1000));
    if (d.kind === 'approve') this.#o.metrics.approved.inc();
    else this.#o.metrics.denied.inc({ reason: d.reason });
    const fields = {
      csr: csr.metadata.name,
      decision: label,
      reason: d.reason,
      requester: csr.spec.username ?? '',
      credential: csr.spec.extra?.['authentication.kubernetes.io/credential-id']?.[0],
    };
    if (d.kind === 'approve') this.#log.info(`approved CSR ${csr.metadata.name}: ${d.message}`, fields);
    else this.#log.warn(`denied CSR ${csr.metadata.name}: ${d.reason}: ${d.message}`, fields);
  }
}

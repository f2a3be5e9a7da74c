/**
 * Leader election over a coordination.k8s.io/v1 Lease, the protocol client-go's leaderelection
 * uses (so `kubectl get lease` reads the same way): the holder renews every retry period; others
 * take the Lease only after it has not changed for leaseDurationSeconds *as they observe it* (a
 * local clock, so clock skew between replicas does not matter); every write carries the
 * resourceVersion it read, so two candidates cannot both win. A leader that cannot renew within
 * the renew deadline stops acting before anyone else may take over (deadline < duration), and a
 * stopping leader releases the Lease so a successor starts at once.
 */
import { AttestorError } from '../errors.js';
import { sleep } from '../util/abort.js';
import type { KubeClient } from '../kube/http.js';
import { silentLogger, type Logger } from '../log/logger.js';

export interface LeaseSpec {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseTransitions?: number;
}

export interface LeaderElectionOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly logger?: Logger;
  readonly onStartedLeading?: () => void;
  readonly onStoppedLeading?: () => void;
  readonly onError?: (err: AttestorError) => void;
  /** Test seam. */
  readonly now?: () => number;
  readonly random?: () => number;
}

type Json = Record<string, unknown>;

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}000Z`;
}

const statusOf = (err: unknown): number | undefined => {
  if (!(err instanceof AttestorError)) return undefined;
  const s = err.details.status;
  return typeof s === 'number' ? s : undefined;
};

interface Observed {
  readonly resourceVersion: string;
  readonly spec: LeaseSpec;
  readonly raw: Json;
}

function parseLease(value: unknown): Observed {
  const o = (typeof value === 'object' && value !== null ? value : {}) as Json;
  const md = (typeof o.metadata === 'object' && o.metadata !== null ? o.metadata : {}) as Json;
  const spec = (typeof o.spec === 'object' && o.spec !== null ? o.spec : {}) as Json;
  if (typeof md.resourceVersion !== 'string' || md.resourceVersion === '')
    throw new AttestorError(
      'ERR_KUBE_API',
      'the API server returned a malformed Lease: no metadata.resourceVersion',
    );
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
  const holderIdentity = str(spec.holderIdentity);
  const leaseDurationSeconds = num(spec.leaseDurationSeconds);
  const acquireTime = str(spec.acquireTime);
  const renewTime = str(spec.renewTime);
  const leaseTransitions = num(spec.leaseTransitions);
  return {
    resourceVersion: md.resourceVersion,
    raw: o,
    spec: {
      ...(holderIdentity === undefined ? {} : { holderIdentity }),
      ...(leaseDurationSeconds === undefined ? {} : { leaseDurationSeconds }),
      ...(acquireTime === undefined ? {} : { acquireTime }),
      ...(renewTime === undefined ? {} : { renewTime }),
      ...(leaseTransitions === undefined ? {} : { leaseTransitions }),
    },
  };
}

export class LeaderElector {
  readonly #kube: KubeClient;
  readonly #o: LeaderElectionOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #path: string;
  #observed: Observed | undefined;
  #observedAt = 0;
  #leading = false;
  /** When the last successful acquire/renew was *sent* (conservative: before the round trip). */
  #renewedAt = 0;

  constructor(kube: KubeClient, o: LeaderElectionOptions) {
    if (!(
      o.leaseDurationMs > o.renewDeadlineMs &&
      o.renewDeadlineMs > o.retryPeriodMs &&
      o.retryPeriodMs > 0
    ))
      throw new AttestorError(
        'ERR_USAGE',
        'leader election needs lease duration > renew deadline > retry period > 0',
      );
    this.#kube = kube;
    this.#o = o;
    this.#log = o.logger ?? silentLogger;
    this.#now = o.now ?? Date.now;
    this.#path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(o.namespace)}/leases/${encodeURIComponent(o.name)}`;
  }

  get identity(): string {
    return this.#o.identity;
  }

  /** The holder last observed (ours included); undefined before the first read. */
  get observedHolder(): string | undefined {
    return this.#observed?.spec.holderIdentity;
  }

  /** True while we hold the Lease and our last renewal is within the renew deadline. */
  isLeader(): boolean {
    return this.#leading && this.#now() - this.#renewedAt < this.#o.renewDeadlineMs;
  }

  #requestSignal(signal: AbortSignal | undefined, ms: number): AbortSignal {
    const t = AbortSignal.timeout(Math.max(1, ms));
    return signal === undefined ? t : AbortSignal.any([signal, t]);
  }

  /** One attempt to take or keep the Lease; false when someone else holds it or a write lost a race. */
  async tryAcquireOrRenew(signal?: AbortSignal, timeoutMs = this.#o.renewDeadlineMs): Promise<boolean> {
    const started = this.#now();
    const rs = this.#requestSignal(signal, timeoutMs);
    const durationSeconds = Math.ceil(this.#o.leaseDurationMs / 1000);
    let current: Observed | undefined;
    try {
      current = parseLease(await this.#kube.requestJson('GET', this.#path, undefined, rs));
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
    if (current === undefined) {
      try {
        const created = await this.#kube.requestJson(
          'POST',
          `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.#o.namespace)}/leases`,
          {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.#o.name, namespace: this.#o.namespace },
            spec: {
              holderIdentity: this.#o.identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: microTime(started),
              renewTime: microTime(started),
              leaseTransitions: 0,
            },
          },
          rs,
        );
        this.#observe(parseLease(created), started);
        this.#renewedAt = started;
        return true;
      } catch (err) {
        if (statusOf(err) === 409) return false;
        throw err;
      }
    }
    if (this.#observed?.resourceVersion !== current.resourceVersion) this.#observe(current, started);
    const holder = current.spec.holderIdentity ?? '';
    const theirDurationMs = (current.spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (holder !== '' && holder !== this.#o.identity && this.#observedAt + theirDurationMs > started)
      return false;

    const ours = holder === this.#o.identity;
    const spec: LeaseSpec = {
      ...current.spec,
      holderIdentity: this.#o.identity,
      leaseDurationSeconds: durationSeconds,
      renewTime: microTime(started),
      ...(ours
        ? {}
        : { acquireTime: microTime(started), leaseTransitions: (current.spec.leaseTransitions ?? 0) + 1 }),
    };
    try {
      const updated = await this.#kube.requestJson('PUT', this.#path, { ...current.raw, spec }, rs);
      this.#observe(parseLease(updated), started);
      this.#renewedAt = started;
      return true;
    } catch (err) {
      if (statusOf(err) === 409) return false;
      throw err;
    }
  }

  #observe(o: Observed, at: number): void {
    const before = this.#observed?.spec.holderIdentity;
    this.#observed = o;
    this.#observedAt = at;
    const now = o.spec.holderIdentity;
    if (before !== now && now !== this.#o.identity)
      this.#log.info('lease holder observed', {
        lease: `${this.#o.namespace}/${this.#o.name}`,
        holder: now ?? '',
      });
  }

  async #attempt(signal: AbortSignal, timeoutMs?: number): Promise<boolean> {
    try {
      return await this.tryAcquireOrRenew(signal, timeoutMs);
    } catch (err) {
      if (signal.aborted) return false;
      const e =
        err instanceof AttestorError ? err : new AttestorError('ERR_INTERNAL', String(err), { cause: err });
      this.#o.onError?.(e);
      this.#log.warn('leader election request failed', { error: e.message });
      return false;
    }
  }

  #jittered(ms: number): number {
    return Math.round(ms * (1 + 0.2 * (this.#o.random ?? Math.random)()));
  }

  /** Campaigns, leads, and campaigns again after losing the Lease, until `signal` aborts; then releases it. */
  async run(signal: AbortSignal): Promise<void> {
    // A function, not the property: it changes across awaits, which narrowing cannot see.
    const stopped = (): boolean => signal.aborted;
    try {
      while (!stopped()) {
        while (!stopped() && !(await this.#attempt(signal)))
          await sleep(this.#jittered(this.#o.retryPeriodMs), signal, 'leader election');
        if (stopped()) break;
        this.#setLeading(true);
        while (!stopped()) {
          await sleep(this.#o.retryPeriodMs, signal, 'lease renewal');
          const left = this.#o.renewDeadlineMs - (this.#now() - this.#renewedAt);
          if (left > 0 && (await this.#attempt(signal, left))) continue;
          if (stopped()) break;
          if (this.#now() - this.#renewedAt >= this.#o.renewDeadlineMs) {
            this.#log.warn('could not renew the lease within the renew deadline; stepping down', {
              lease: `${this.#o.namespace}/${this.#o.name}`,
            });
            this.#setLeading(false);
            break;
          }
        }
      }
    } catch {
      // sleep() rejects on abort: that is how we leave.
    }
    if (this.#leading) {
      this.#setLeading(false);
      await this.release();
    }
  }

  #setLeading(v: boolean): void {
    if (this.#leading === v) return;
    this.#leading = v;
    this.#log.info(v ? 'became the leader' : 'stopped leading', {
      lease: `${this.#o.namespace}/${this.#o.name}`,
      identity: this.#o.identity,
    });
    if (v) this.#o.onStartedLeading?.();
    else this.#o.onStoppedLeading?.();
  }

  /**
   * Gives the Lease up (holder cleared) if we still hold it, so a successor need not wait it out.
   * A renewal aborted by the shutdown may still have been applied, leaving our resourceVersion
   * stale: on 409 the Lease is read again and released if it is still ours.
   */
  async release(timeoutMs = 2000): Promise<void> {
    const signal = AbortSignal.timeout(timeoutMs);
    let o = this.#observed;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (o?.spec.holderIdentity !== this.#o.identity) return;
      const now = this.#now();
      try {
        await this.#kube.requestJson(
          'PUT',
          this.#path,
          {
            ...o.raw,
            spec: {
              ...o.spec,
              holderIdentity: '',
              leaseDurationSeconds: 1,
              renewTime: microTime(now),
              acquireTime: microTime(now),
            },
          },
          signal,
        );
        this.#log.info('released the lease', { lease: `${this.#o.namespace}/${this.#o.name}` });
        return;
      } catch (err) {
        let failure: unknown = err;
        if (statusOf(err) === 409 && attempt === 0) {
          try {
            o = parseLease(await this.#kube.requestJson('GET', this.#path, undefined, signal));
            continue;
          } catch (getErr) {
            failure = getErr;
          }
        }
        // Otherwise it simply expires.
        this.#log.warn('could not release the lease; it will expire', {
          error: failure instanceof Error ? failure.message : String(failure),
        });
        return;
      }
    }
  }
}

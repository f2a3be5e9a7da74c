/**
 * A list-then-watch cache of one kind of object (the approver's CSRs, the signer's
 * PodCertificateRequests), narrowed by a fieldSelector such as spec.signerName=…: the first
 * LIST fills it and gives the resourceVersion to WATCH from, so nothing created meanwhile is
 * missed; a watch that ends is resumed from the last resourceVersion seen (events and
 * bookmarks); 410 Gone (our resourceVersion was compacted away) means LIST again and reconcile.
 * Every replica runs one, leader or not, so a new leader starts with a warm cache.
 */
import { AttestorError } from '../errors.js';
import { sleep } from '../util/abort.js';
import type { KubeClient } from '../kube/http.js';
import { parseStatus } from '../kube/kube-errors.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { Backoff } from '../util/backoff.js';

export interface InformerHandlers<E> {
  /** An object was added or changed (or seen in a LIST). */
  readonly onUpsert: (entry: E) => void;
  readonly onDelete: (entry: E) => void;
  /** A LIST completed: the cache now reflects the server. */
  readonly onSync: () => void;
  /** Something failed and will be retried; `stage` is list, watch or parse. */
  readonly onError: (stage: 'list' | 'watch' | 'parse', err: AttestorError) => void;
}

/** What is listed and watched, and how an item becomes an entry. */
export interface ListWatchResource<E> {
  /** The collection path, e.g. /apis/certificates.k8s.io/v1/certificatesigningrequests. */
  readonly path: string;
  /** The list kind, for messages (e.g. CertificateSigningRequestList). */
  readonly listKind: string;
  /** A short name for messages and logs (e.g. CSR). */
  readonly noun: string;
  /** Parses one item (an AttestorError when malformed: the item is skipped and counted). */
  readonly parse: (raw: Record<string, unknown>) => E;
  /** The cache key of an entry (name, or namespace/name for namespaced objects). */
  readonly key: (entry: E) => string;
}

export interface InformerOptions {
  readonly fieldSelector: string;
  readonly logger?: Logger;
  /** LIST page size (limit/continue). */
  readonly pageSize?: number;
  /** Server-side watch timeout; the watch is then resumed. Default 300 s. */
  readonly watchTimeoutSeconds?: number;
  readonly backoff?: Backoff;
  /**
   * Whether a failure of the very first LIST with 401/403 stops the approver (true, the
   * default: its credentials or RBAC are wrong and a restart shows it) or is retried.
   */
  readonly failFastOnAuth?: boolean;
}

/** Thrown inside the loop to ask for a fresh LIST. */
class Relist extends Error {}

type Json = Record<string, unknown>;
const record = (v: unknown): Json | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;

export class ListWatchInformer<E> {
  readonly #kube: KubeClient;
  readonly #r: ListWatchResource<E>;
  readonly #h: InformerHandlers<E>;
  readonly #o: InformerOptions;
  readonly #log: Logger;
  readonly #cache = new Map<string, E>();
  readonly #backoff: Backoff;
  #synced = false;
  #resourceVersion = '';

  constructor(
    kube: KubeClient,
    resource: ListWatchResource<E>,
    handlers: InformerHandlers<E>,
    opts: InformerOptions,
  ) {
    this.#kube = kube;
    this.#r = resource;
    this.#h = handlers;
    this.#o = opts;
    this.#log = opts.logger ?? silentLogger;
    this.#backoff = opts.backoff ?? new Backoff(200, 30_000);
  }

  /** True once the first LIST has completed. */
  get synced(): boolean {
    return this.#synced;
  }

  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  get(key: string): E | undefined {
    return this.#cache.get(key);
  }

  entries(): E[] {
    return [...this.#cache.values()];
  }

  /** Runs until `signal` aborts (then resolves). Rejects only on a fatal first-LIST auth error. */
  async run(signal: AbortSignal): Promise<void> {
    // A function, not the property: it changes across awaits, which narrowing cannot see.
    const stopped = (): boolean => signal.aborted;
    let needList = true;
    while (!stopped()) {
      try {
        if (needList) {
          await this.#list(signal);
          needList = false;
        }
        const started = Date.now();
        const events = await this.#watch(signal);
        // A stream the server ends at once, again and again, must not become a busy loop.
        if (events === 0 && Date.now() - started < 1000)
          await sleep(this.#backoff.next(), signal, 'informer backoff');
        else this.#backoff.reset();
      } catch (err) {
        if (stopped()) return;
        if (err instanceof Relist) {
          this.#log.info('watch resourceVersion expired; listing again', {
            resourceVersion: this.#resourceVersion,
          });
          needList = true;
          continue;
        }
        const e =
          err instanceof AttestorError ? err : new AttestorError('ERR_INTERNAL', String(err), { cause: err });
        const fatal =
          !this.#synced &&
          this.#o.failFastOnAuth !== false &&
          (e.code === 'ERR_KUBE_UNAUTHORIZED' ||
            e.code === 'ERR_KUBE_CREDENTIALS' ||
            e.code === 'ERR_KUBE_FORBIDDEN');
        if (fatal) throw e;
        if (e.code === 'ERR_KUBE_API' && e.details.status === 410) needList = true;
        this.#h.onError(needList ? 'list' : 'watch', e);
        const delay = this.#backoff.next();
        this.#log.warn(`${needList ? 'listing' : 'watching'} ${this.#r.noun}s failed; retrying`, {
          error: e.message,
          retryInMs: delay,
        });
        try {
          await sleep(delay, signal, 'informer backoff');
        } catch {
          return;
        }
      }
    }
  }

  #parse(raw: unknown): E | undefined {
    const obj = record(raw);
    try {
      if (obj === undefined)
        throw new AttestorError('ERR_KUBE_API', `a ${this.#r.noun} in the list or watch is not an object`);
      return this.#r.parse(obj);
    } catch (err) {
      const e = err instanceof AttestorError ? err : new AttestorError('ERR_KUBE_API', String(err));
      this.#h.onError('parse', e);
      this.#log.warn(`skipping a malformed ${this.#r.noun}`, { error: e.message });
      return undefined;
    }
  }

  async #list(signal: AbortSignal): Promise<void> {
    const seen = new Map<string, E>();
    let cont = '';
    let rv: string;
    do {
      const query = new URLSearchParams({
        fieldSelector: this.#o.fieldSelector,
        limit: String(this.#o.pageSize ?? 500),
        ...(cont === '' ? {} : { continue: cont }),
      });
      const page = record(
        await this.#kube.requestJson('GET', `${this.#r.path}?${query.toString()}`, undefined, signal),
      );
      const md = record(page?.metadata) ?? {};
      const items = page?.items;
      if (page === undefined || !Array.isArray(items) || typeof md.resourceVersion !== 'string')
        throw new AttestorError('ERR_KUBE_API', `the API server returned a malformed ${this.#r.listKind}`);
      rv = md.resourceVersion;
      cont = typeof md.continue === 'string' ? md.continue : '';
      for (const item of items) {
        const e = this.#parse(item);
        if (e !== undefined) seen.set(this.#r.key(e), e);
      }
    } while (cont !== '');

    const gone = [...this.#cache.entries()].filter(([k]) => !seen.has(k)).map(([, e]) => e);
    this.#cache.clear();
    for (const [k, v] of seen) this.#cache.set(k, v);
    this.#resourceVersion = rv;
    this.#synced = true;
    this.#log.debug(`listed ${this.#r.noun}s`, { count: seen.size, resourceVersion: rv });
    for (const e of gone) this.#h.onDelete(e);
    for (const e of seen.values()) this.#h.onUpsert(e);
    this.#h.onSync();
  }

  /** One watch stream, until the server ends it; resolves with the number of events seen. */
  async #watch(signal: AbortSignal): Promise<number> {
    let events = 0;
    const query: Record<string, string> = {
      fieldSelector: this.#o.fieldSelector,
      resourceVersion: this.#resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(this.#o.watchTimeoutSeconds ?? 300),
    };
    for await (const ev of this.#kube.watch(this.#r.path, query, signal)) {
      events++;
      if (ev.type === 'ERROR') {
        const st = parseStatus(ev.object);
        if (st?.code === 410) throw new Relist();
        throw new AttestorError(
          'ERR_KUBE_API',
          `the ${this.#r.noun} watch failed: ${[st?.reason, st?.message].filter((s) => s !== undefined).join(': ') || 'ERROR event'}`,
          { details: { ...(st?.code === undefined ? {} : { status: st.code }) } },
        );
      }
      const md = record(ev.object.metadata);
      const rv = typeof md?.resourceVersion === 'string' ? md.resourceVersion : '';
      if (ev.type === 'BOOKMARK') {
        if (rv !== '') this.#resourceVersion = rv;
        continue;
      }
      if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED' && ev.type !== 'DELETED')
        throw new AttestorError('ERR_KUBE_API', `unexpected watch event type ${JSON.stringify(ev.type)}`);
      if (rv !== '') this.#resourceVersion = rv;
      const e = this.#parse(ev.object);
      if (e === undefined) continue;
      const key = this.#r.key(e);
      if (ev.type === 'DELETED') {
        this.#cache.delete(key);
        this.#h.onDelete(e);
      } else {
        this.#cache.set(key, e);
        this.#h.onUpsert(e);
      }
    }
    return events;
  }
}

/**
 * A keyed work queue in the style of client-go's workqueue: a key waiting is queued once however
 * often it is added; a key is never processed by two workers at once (an add during processing
 * runs it again afterwards); a failed key is retried with per-key exponential backoff.
 */
export interface WorkQueueOptions {
  readonly concurrency: number;
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /** A key failed; it is retried after `retryInMs`. */
  readonly onError?: (key: string, err: unknown, retryInMs: number) => void;
}

export class WorkQueue {
  readonly #order: string[] = [];
  readonly #queued = new Set<string>();
  readonly #active = new Set<string>();
  readonly #again = new Set<string>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #failures = new Map<string, number>();
  #wake: (() => void) | undefined;
  #stopped = false;

  get length(): number {
    return this.#order.length;
  }

  /** Keys waiting, being processed, or waiting for a retry. */
  get pending(): number {
    return this.#queued.size + this.#active.size + this.#timers.size;
  }

  add(key: string): void {
    if (this.#stopped) return;
    if (this.#active.has(key)) {
      this.#again.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    const t = this.#timers.get(key);
    if (t !== undefined) {
      clearTimeout(t);
      this.#timers.delete(key);
    }
    this.#queued.add(key);
    this.#order.push(key);
    this.#wake?.();
  }

  /** Forgets a key's retry history and any scheduled retry (e.g. the object was deleted). */
  forget(key: string): void {
    this.#failures.delete(key);
    const t = this.#timers.get(key);
    if (t !== undefined) clearTimeout(t);
    this.#timers.delete(key);
  }

  #retryDelay(key: string, o: WorkQueueOptions): number {
    const n = this.#failures.get(key) ?? 0;
    this.#failures.set(key, n + 1);
    return Math.min(o.retryMaxMs ?? 60_000, (o.retryBaseMs ?? 250) * 2 ** Math.min(n, 20));
  }

  async #take(signal: AbortSignal): Promise<string | undefined> {
    for (;;) {
      if (signal.aborted) return undefined;
      const key = this.#order.shift();
      if (key !== undefined) {
        this.#queued.delete(key);
        return key;
      }
      await new Promise<void>((resolve) => {
        const done = (): void => {
          signal.removeEventListener('abort', done);
          this.#wake = undefined;
          resolve();
        };
        const previous = this.#wake;
        this.#wake = () => {
          previous?.();
          done();
        };
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  /** Runs `concurrency` workers until `signal` aborts; resolves when they have all stopped. */
  async run(
    process: (key: string) => Promise<void>,
    o: WorkQueueOptions,
    signal: AbortSignal,
  ): Promise<void> {
    const worker = async (): Promise<void> => {
      for (;;) {
        const key = await this.#take(signal);
        if (key === undefined) return;
        this.#active.add(key);
        try {
          await process(key);
          this.#failures.delete(key);
        } catch (err) {
          if (!signal.aborted) {
            const delay = this.#retryDelay(key, o);
            o.onError?.(key, err, delay);
            this.#timers.set(
              key,
              setTimeout(() => {
                this.#timers.delete(key);
                this.add(key);
              }, delay),
            );
          }
        } finally {
          this.#active.delete(key);
          if (this.#again.delete(key)) this.add(key);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));
    this.#stopped = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }
}

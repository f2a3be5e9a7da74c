/**
 * Exponential backoff with jitter ("equal jitter": between half and all of the step), so clients
 * that fail or poll together do not retry in step (approver replicas, nodes polling their CSRs).
 */
export class Backoff {
  #attempt = 0;

  constructor(
    readonly baseMs: number,
    readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt: base·2^n capped at max, jittered down to at least half. */
  next(): number {
    const cap = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    return Math.round(cap / 2 + (this.random() * cap) / 2);
  }

  reset(): void {
    this.#attempt = 0;
  }
}

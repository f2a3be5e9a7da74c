/**
 * The challenge round under a deadline and a bound. Without them an Attest stream that never
 * answers its challenge waits forever, and whoever holds a copy of any node's certificate (no key
 * needed: it travels in every payload) could fill the plugin's HTTP/2 streams with unanswered
 * challenges so that every honest attestation queued behind them.
 *
 * - Deadline: a challenge unanswered after challenge_timeout ends its call (ERR_CHALLENGE_TIMEOUT,
 *   DEADLINE_EXCEEDED). SPIRE's agent answers in milliseconds.
 * - Bound: at most max_pending_challenges challenges wait at once, fewer than the transport's
 *   stream limit, so held streams never fill the transport. When the bound is full, a new
 *   challenge ends the one that has waited longest (ERR_TOO_MANY_CHALLENGES, RESOURCE_EXHAUSTED;
 *   spire-agent retries). An honest agent answers long before max_pending_challenges newer
 *   attestations arrive, so the oldest is the slowest caller's: slow callers cannot starve fast
 *   ones, and the plugin's memory stays bounded however many streams are held.
 */
import { AttestorError } from '../../../errors.js';
import { formatGoDuration } from '../../../util/duration.js';
import { MAX_CONCURRENT_STREAMS } from '../../host/serve-plugin.js';

export interface ChallengeLimits {
  readonly timeoutMs: number;
  readonly maxPending: number;
}

export const DEFAULT_CHALLENGE_TIMEOUT_MS = 5_000;
export const MIN_CHALLENGE_TIMEOUT_MS = 100;
export const MAX_CHALLENGE_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_PENDING_CHALLENGES = 64;
/**
 * Streams the bound leaves free: broker and stdio (2), and attestations being verified or having
 * their Node looked up, which hold a stream without holding a challenge.
 */
const RESERVED_STREAMS = 32;
export const MAX_PENDING_CHALLENGES_LIMIT = MAX_CONCURRENT_STREAMS - RESERVED_STREAMS;

export const DEFAULT_CHALLENGE_LIMITS: ChallengeLimits = {
  timeoutMs: DEFAULT_CHALLENGE_TIMEOUT_MS,
  maxPending: DEFAULT_MAX_PENDING_CHALLENGES,
};

export class PendingChallenges {
  /** Insertion order is age order: the first is the one that has waited longest. */
  private readonly waiting = new Set<AbortController>();

  constructor(private limits: ChallengeLimits = DEFAULT_CHALLENGE_LIMITS) {}

  /** New limits apply to challenges sent from now on (a Configure). */
  setLimits(limits: ChallengeLimits): void {
    this.limits = limits;
  }

  /** Challenges waiting for their response now. */
  get size(): number {
    return this.waiting.size;
  }

  /**
   * Runs one challenge round: `round` sends the challenge and waits for the response until the
   * signal aborts, with the AttestorError that ends the call as its reason.
   */
  async run<T>(round: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const { timeoutMs, maxPending } = this.limits;
    for (const oldest of this.waiting) {
      if (this.waiting.size < maxPending) break;
      this.waiting.delete(oldest);
      oldest.abort(
        new AttestorError(
          'ERR_TOO_MANY_CHALLENGES',
          `too many attestations wait for a challenge response (max_pending_challenges ${String(maxPending)}); this one waited longest`,
          { details: { max_pending_challenges: maxPending } },
        ),
      );
    }
    const mine = new AbortController();
    const timer = setTimeout(() => {
      mine.abort(
        new AttestorError(
          'ERR_CHALLENGE_TIMEOUT',
          `no challenge response within ${formatGoDuration(timeoutMs)} (challenge_timeout)`,
          { details: { challenge_timeout_ms: timeoutMs } },
        ),
      );
    }, timeoutMs);
    this.waiting.add(mine);
    try {
      return await round(mine.signal);
    } finally {
      clearTimeout(timer);
      this.waiting.delete(mine);
    }
  }
}

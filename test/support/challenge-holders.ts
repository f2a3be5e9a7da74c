/**
 * The held-challenge attack, as spire-server would relay it: Attest streams that send a node's
 * (public) certificate as the payload, take the challenge and never answer. Shared by the
 * end-to-end test of the server plugin and its benchmark.
 */
import type { status } from '@grpc/grpc-js';
import type {
  AttestRequest,
  AttestResponse,
} from '../../src/gen/spire/plugin/server/nodeattestor/v1/nodeattestor.js';
import type { FakeSpireHost, StreamSession } from './fake-spire-host.js';

export interface EndStatus {
  readonly code: status;
  readonly details: string;
}

export interface Holder {
  readonly session: StreamSession<AttestRequest, AttestResponse>;
  /** Settles at the first event: the challenge arrived, or the plugin ended the stream first. */
  readonly first: Promise<'challenge' | EndStatus>;
  /** The stream's final status. */
  readonly ended: Promise<EndStatus>;
  /** The final status once it has arrived. */
  readonly endedWith: () => EndStatus | undefined;
  /** performance.now() when the challenge arrived. */
  readonly challengedAt: () => number | undefined;
}

/** Opens one stream that takes its challenge and never answers. */
export function holdChallenge(host: FakeSpireHost, payload: Buffer): Holder {
  const session = host.openAttest();
  let end: EndStatus | undefined;
  let at: number | undefined;
  const ended = session.status.then((s) => {
    end = s;
    return s;
  });
  session.send({ request: { $case: 'payload', payload } });
  const first = session.recv().then(
    async (m): Promise<'challenge' | EndStatus> => {
      if (m?.response?.$case === 'challenge') {
        at = performance.now();
        return 'challenge';
      }
      return ended;
    },
    () => ended,
  );
  return { session, first, ended, endedWith: () => end, challengedAt: () => at };
}

export interface Holders {
  readonly all: readonly Holder[];
  /** Holders whose stream is still open. */
  readonly holding: () => readonly Holder[];
  /** Holders the plugin ended, by status code. */
  readonly endedWith: (code: status) => readonly Holder[];
  /**
   * Waits until `done()` holds, re-checking each time a holder's stream ends (a status may still
   * be on its way when the last challenge has arrived); hangs if it never does.
   */
  readonly until: (done: () => boolean) => Promise<void>;
  /** Cancels every open stream (as spire-server does when an agent goes away). */
  readonly release: () => Promise<void>;
}

/** Opens `n` holders at once and waits until each has its challenge or has been ended. */
export async function holdChallenges(host: FakeSpireHost, payload: Buffer, n: number): Promise<Holders> {
  const all = Array.from({ length: n }, () => holdChallenge(host, payload));
  await Promise.all(all.map((h) => h.first));
  const holding = (): Holder[] => all.filter((h) => h.endedWith() === undefined);
  return {
    all,
    holding,
    until: async (done) => {
      while (!done()) await Promise.race(holding().map((h) => h.ended));
    },
    endedWith: (code) => all.filter((h) => h.endedWith()?.code === code),
    release: async () => {
      for (const h of all) h.session.cancel();
      await Promise.all(all.map((h) => h.ended));
    },
  };
}

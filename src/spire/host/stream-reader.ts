/**
 * Pull-based reading of a grpc-js call's incoming messages. Reading only when the protocol
 * expects a message keeps backpressure (grpc-js stops reading from HTTP/2 while our buffer is
 * full) and avoids Readable's async iterator, which destroys the whole duplex call when the
 * host half-closes, before we could send our last message and status.
 */
import type { Readable } from 'node:stream';

export type ReadResult<T> = { readonly done: true } | { readonly done: false; readonly value: T };

/** Thrown by next() when the call was cancelled or destroyed rather than half-closed. */
export class StreamClosedError extends Error {
  override readonly name = 'StreamClosedError';
}

export class MessageReader<T> {
  private ended = false;
  private closed = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly stream: Readable) {
    const notify = (): void => {
      const w = this.wake;
      this.wake = undefined;
      w?.();
    };
    stream.on('readable', notify);
    stream.on('end', () => {
      this.ended = true;
      notify();
    });
    stream.on('close', () => {
      this.closed = true;
      notify();
    });
    stream.on('error', (err: Error) => {
      this.failure = err;
      notify();
    });
  }

  /** The next message; done when the host half-closed; throws StreamClosedError when cancelled. */
  async next(): Promise<ReadResult<T>> {
    for (;;) {
      const v = this.stream.read() as T | null;
      if (v !== null) return { done: false, value: v };
      if (this.ended) return { done: true };
      if (this.closed || this.failure !== undefined) {
        throw new StreamClosedError(this.failure?.message ?? 'stream closed by the host', {
          cause: this.failure,
        });
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}

/** gRPC metadata as a map of lower-cased keys to the first value (binary values base64). */
export function metadataMap(md: { getMap(): Record<string, string | Buffer> }): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(md.getMap())) {
    out.set(k.toLowerCase(), typeof v === 'string' ? v : v.toString('base64'));
  }
  return out;
}

/**
 * Splits a byte stream into lines for newline-delimited JSON (watch streams). Works on bytes, not
 * strings, so a UTF-8 character split across two chunks is never mangled, and bounds the line
 * length so a server that never sends a newline cannot grow memory without limit.
 */
export class LineSplitter {
  readonly #maxLineBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  /** The complete lines in `chunk` (with what came before), without their newlines. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      this.#pending.push(chunk.subarray(start, nl));
      lines.push(Buffer.concat(this.#pending).toString('utf8'));
      this.#pending = [];
      this.#pendingBytes = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.#pending.push(chunk.subarray(start));
      this.#pendingBytes += chunk.length - start;
      if (this.#pendingBytes > this.#maxLineBytes)
        throw new RangeError(`a line is longer than ${this.#maxLineBytes} bytes`);
    }
    return lines;
  }

  /** What is left after the stream ended (a last line without a newline), if anything. */
  end(): string | undefined {
    if (this.#pendingBytes === 0) return undefined;
    const rest = Buffer.concat(this.#pending).toString('utf8');
    this.#pending = [];
    this.#pendingBytes = 0;
    return rest;
  }
}

/**
 * A value that must never reach a message, a log line or a JSON dump: bearer tokens and private
 * key bytes. Printing, inspecting or serialising it yields a placeholder; only `reveal()` gives
 * the value, so each use is visible in review.
 */
import { inspect } from 'node:util';

export class Secret<T> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  reveal(): T {
    return this.#value;
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return 'Secret([redacted])';
  }
}

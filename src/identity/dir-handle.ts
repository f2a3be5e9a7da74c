/**
 * An identity directory that was checked and is held open (safe-open.ts). Everything inside it
 * is named through the descriptor, never through the path again: once checked, renaming the
 * directory away or putting a symlink in its place cannot redirect a later read or write.
 */
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { procPath } from './safe-open.js';

export class IdentityDir {
  constructor(
    /** The path as the user gave it: for messages and the documented file paths only. */
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  /** A path reaching `name` (relative, may contain '/') inside the directory held open. */
  at(name = ''): string {
    return procPath(this.handle.fd, name);
  }

  /** `name` as the user knows it, for messages. */
  shown(name: string): string {
    return join(this.path, name);
  }

  /** fsync of the directory itself. */
  async sync(): Promise<void> {
    await this.handle.sync();
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

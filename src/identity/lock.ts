/**
 * A writer lock for one identity directory. It is not what keeps the pair consistent (every
 * publish is one atomic rename); it stops one writer's clean-up from deleting the generation
 * another writer is about to publish. Writers hold it for milliseconds, so a lock whose owner has
 * died, or that is older than STALE_MS, is broken rather than waited on forever.
 */
import { constants } from 'node:fs';
import { hostname } from 'node:os';
import { open, unlink } from 'node:fs/promises';
import { AttestorError } from '../errors.js';
import { sleep } from '../util/abort.js';
import type { IdentityDir } from './dir-handle.js';
import { errnoCode, io } from './io-error.js';
import { LOCK_FILE } from './layout.js';
import { writeNewFile } from './fs-ops.js';

const STALE_MS = 30_000;
/** A lock file with no readable owner yet is mid-creation for at most this long. */
const UNWRITTEN_GRACE_MS = 5_000;
const POLL_MS = 20;

interface LockOwner {
  readonly pid: number;
  readonly host: string;
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null) return undefined;
    const { pid, host } = v as Record<string, unknown>;
    return typeof pid === 'number' && typeof host === 'string' ? { pid, host } : undefined;
  } catch {
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM'; // exists, owned by someone else
  }
}

/** Why the lock at `path` may be broken, or undefined while its owner may still be working. */
async function staleReason(path: string): Promise<string | undefined> {
  let text: string;
  let ageMs: number;
  try {
    // One open (never following a link) for both facts, so they are about the same file.
    const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      [text, ageMs] = await Promise.all([fh.readFile('utf8'), fh.stat().then((s) => Date.now() - s.mtimeMs)]);
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined; // released meanwhile: just retry
    throw err;
  }
  const owner = parseOwner(text);
  if (owner === undefined) return ageMs > UNWRITTEN_GRACE_MS ? 'it names no owner' : undefined;
  if (owner.host === hostname() && !processAlive(owner.pid)) return `process ${owner.pid} is gone`;
  if (ageMs > STALE_MS) return `it is ${Math.round(ageMs / 1000)}s old`;
  return undefined;
}

export interface LockOptions {
  readonly signal?: AbortSignal;
  readonly onBreak?: (reason: string) => void;
}

/** Takes the lock, waiting while another writer holds it; returns the release function. */
export async function acquireWriteLock(
  dir: IdentityDir,
  options: LockOptions = {},
): Promise<() => Promise<void>> {
  const path = dir.at(LOCK_FILE);
  const shown = dir.shown(LOCK_FILE);
  const owner = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() });
  for (;;) {
    try {
      await writeNewFile(dir, LOCK_FILE, owner, 0o600);
      return async () => {
        await unlink(path).catch(() => undefined);
      };
    } catch (err) {
      if (!(err instanceof AttestorError) || errnoCode(err.cause) !== 'EEXIST') throw err;
    }
    const reason = await io('inspect lock', shown, () => staleReason(path));
    if (reason !== undefined) {
      options.onBreak?.(reason);
      await unlink(path).catch(() => undefined);
      continue;
    }
    await sleep(POLL_MS, options.signal, `waiting for the identity directory lock ${shown}`);
  }
}

/**
 * Writing the identity document so that key and certificate change together, even across a
 * crash at any instant.
 *
 * Layout (like the kubelet's kubelet-client-current.pem):
 *   id-doc.key      -> .id-doc-current/id-doc.key     stable symlinks, made once
 *   id-doc.crt      -> .id-doc-current/id-doc.crt
 *   .id-doc-current -> .id-doc-gen-<hex>               replaced by one rename(2) per write
 *   .id-doc-gen-<hex>/id-doc.key (0600), id-doc.crt (0644)
 *
 * A write fills a fresh generation (files created with their final modes, fsynced, directory
 * fsynced) and then renames a new symlink over `.id-doc-current`. Before that rename readers see
 * the old pair, after it the new one; there is no instant that mixes them, and no reader ever sees
 * a partly written file, because generation files are complete before anything points at them.
 * (A reader that opens the two paths at two different moments can still straddle a rename, as with
 * any two-file layout; readIdentity resolves the generation once and reads both files from it.)
 * The key never exists outside its generation, and a generation is only written once the caller
 * has verified the certificate.
 */
import { chmod, mkdir, readFile, readdir, rename, rm, symlink, unlink, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AttestorError } from '../errors.js';
import { silentLogger } from '../log/logger.js';
import type { Logger } from '../log/logger.js';
import { ensureIdentityDir } from './dir.js';
import { currentGeneration, lstatIfExists, syncDir, writeNewFile } from './fs-ops.js';
import { errnoCode, io } from './io-error.js';
import {
  CERT_FILE,
  CERT_LINK_TARGET,
  CERT_MODE,
  CURRENT_LINK,
  GENERATION_MODE,
  GENERATION_PREFIX,
  KEY_FILE,
  KEY_LINK_TARGET,
  KEY_MODE,
  PROBE_PREFIX,
  TEMP_PREFIX,
  identityPaths,
  uniqueName,
} from './layout.js';
import type { IdentityPaths } from './layout.js';
import { acquireWriteLock } from './lock.js';

export interface IdentityDocument {
  /** PKCS#8 PEM. */
  readonly keyPem: string;
  /** The PEM chain exactly as issued. */
  readonly chainPem: string;
}

type GenerationStep =
  'generation-created' | 'key-written' | 'cert-written' | 'generation-synced' | 'link-staged';
/** The points between the write's file-system operations, in order (adopt:* only when upgrading an older plain layout). */
export type WriteStep =
  | 'locked'
  | `adopt:${GenerationStep}`
  | 'adopted'
  | 'links-ready'
  | `write:${GenerationStep}`
  | 'published'
  | 'dir-synced'
  | 'cleaned';

export interface WriteOptions {
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  /** For tests: called at each step; throwing there simulates the next operation failing. */
  readonly onStep?: (step: WriteStep) => void | Promise<void>;
}

type Step = (step: WriteStep) => Promise<void>;

/**
 * Replaces the identity document in `idDir` with `doc`. On failure before the new pair is
 * published, nothing changes and the pieces written so far are removed (ERR_IO). Once published,
 * the write has succeeded: later trouble (syncing the directory, removing the old generation) is
 * logged, not thrown, so a caller never believes the old pair is still in place when it is not.
 */
export async function writeIdentity(
  idDir: string,
  doc: IdentityDocument,
  options: WriteOptions = {},
): Promise<IdentityPaths> {
  const logger = options.logger ?? silentLogger;
  const step: Step = async (s) => {
    await options.onStep?.(s);
  };
  await ensureIdentityDir(idDir);
  const release = await acquireWriteLock(idDir, {
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    onBreak: (reason) => {
      logger.warn('breaking a stale identity directory lock', { dir: idDir, reason });
    },
  });
  try {
    await step('locked');
    await ensureStableLinks(idDir, step);
    const generation = await stageGeneration(idDir, { key: doc.keyPem, cert: doc.chainPem }, 'write', step);
    await publishGeneration(idDir, generation, 'write', step);
    await finishAfterPublish(idDir, generation, step, logger);
  } finally {
    await release();
  }
  return identityPaths(idDir);
}

/** Writes a complete generation directory; removes it again on any failure. Returns its name. */
async function stageGeneration(
  idDir: string,
  files: { readonly key: string | Buffer; readonly cert: string | Buffer },
  phase: 'adopt' | 'write',
  step: Step,
): Promise<string> {
  const name = uniqueName(GENERATION_PREFIX);
  const dir = join(idDir, name);
  try {
    await io('create directory', dir, async () => {
      await mkdir(dir, { mode: GENERATION_MODE });
      await chmod(dir, GENERATION_MODE);
    });
    await step(`${phase}:generation-created`);
    await writeNewFile(join(dir, KEY_FILE), files.key, KEY_MODE);
    await step(`${phase}:key-written`);
    await writeNewFile(join(dir, CERT_FILE), files.cert, CERT_MODE);
    await step(`${phase}:cert-written`);
    await syncDir(dir);
    await step(`${phase}:generation-synced`);
    return name;
  } catch (err) {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

/** The one atomic switch: rename a fresh symlink over `.id-doc-current`. On failure, removes the generation. */
async function publishGeneration(
  idDir: string,
  generation: string,
  phase: 'adopt' | 'write',
  step: Step,
): Promise<void> {
  const staged = join(idDir, uniqueName(TEMP_PREFIX));
  const current = join(idDir, CURRENT_LINK);
  try {
    await io('create symlink', staged, () => symlink(generation, staged));
    await step(`${phase}:link-staged`);
    await io('replace', current, () => rename(staged, current));
  } catch (err) {
    await rm(staged, { force: true }).catch(() => undefined);
    await rm(join(idDir, generation), { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

async function finishAfterPublish(
  idDir: string,
  generation: string,
  step: Step,
  logger: Logger,
): Promise<void> {
  try {
    await step('published');
    await syncDir(idDir);
    await step('dir-synced');
  } catch (err) {
    // Without a durable rename, a crash could bring back the old link: keep what it points to.
    logger.warn(
      'identity document written, but its directory could not be synced; keeping the previous generation',
      {
        dir: idDir,
        error: err instanceof Error ? err.message : String(err),
      },
    );
    return;
  }
  try {
    await collectGarbage(idDir, generation);
    await step('cleaned');
  } catch (err) {
    logger.warn('identity document written, but old generations could not be removed', {
      dir: idDir,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}

/** Removes every generation except `keep`, and leftovers of interrupted writes. Runs under the lock. */
async function collectGarbage(idDir: string, keep: string): Promise<void> {
  // Only when `keep` is really current: if a broken stale lock let another writer in, leave things be.
  if ((await currentGeneration(idDir)) !== keep) return;
  const names = await io('list', idDir, () => readdir(idDir));
  for (const name of names) {
    const leftover =
      (name.startsWith(GENERATION_PREFIX) && name !== keep) ||
      name.startsWith(TEMP_PREFIX) ||
      name.startsWith(PROBE_PREFIX);
    if (leftover)
      await io('remove', join(idDir, name), () => rm(join(idDir, name), { recursive: true, force: true }));
  }
}

const isStray = (state: EntryState): boolean => state === 'file' || state === 'foreign-link';

/** The contents both paths show when neither is one of our links, or undefined when one is absent. */
async function readShownPair(
  key: { readonly path: string; readonly state: EntryState },
  cert: { readonly path: string; readonly state: EntryState },
): Promise<{ key: Buffer; cert: Buffer } | undefined> {
  if (!isStray(key.state) || !isStray(cert.state)) return undefined;
  const read = (path: string): Promise<Buffer | undefined> =>
    io('read', path, () =>
      readFile(path).catch((err: unknown) => {
        if (errnoCode(err) === 'ENOENT') return undefined; // a dangling link
        throw err;
      }),
    );
  const [k, c] = [await read(key.path), await read(cert.path)];
  return k === undefined || c === undefined ? undefined : { key: k, cert: c };
}

type EntryState = 'ours' | 'missing' | 'file' | 'foreign-link';

async function entryState(path: string, target: string): Promise<EntryState> {
  const st = await io('inspect', path, () => lstatIfExists(path));
  if (st === undefined) return 'missing';
  if (st.isSymbolicLink())
    return (await io('read symlink', path, () => readlink(path))) === target ? 'ours' : 'foreign-link';
  if (st.isFile()) return 'file';
  throw new AttestorError('ERR_IO', `cannot replace ${path}: it is not a regular file; remove it`, {
    details: { path },
  });
}

/**
 * Makes id-doc.key/crt the stable symlinks, so the rename of `.id-doc-current` swaps both. Done
 * once per directory, in an order that never shows a mismatched pair at any point in between.
 */
async function ensureStableLinks(idDir: string, step: Step): Promise<void> {
  const { keyPath, certPath } = identityPaths(idDir);
  const entries = [
    { path: keyPath, target: KEY_LINK_TARGET, state: await entryState(keyPath, KEY_LINK_TARGET) },
    { path: certPath, target: CERT_LINK_TARGET, state: await entryState(certPath, CERT_LINK_TARGET) },
  ] as const;
  const [key, cert] = entries;
  if (key.state === 'ours' && cert.state === 'ours') return;

  const shown = await readShownPair(key, cert);
  if (shown !== undefined) {
    // A pair not managed by links (an older version wrote plain files): copy it into a generation
    // and publish that first, so while the paths become links one by one, each already shows
    // that same pair.
    const generation = await stageGeneration(idDir, shown, 'adopt', step);
    await publishGeneration(idDir, generation, 'adopt', step);
    await syncDir(idDir);
    await step('adopted');
  } else if ((await currentGeneration(idDir)) === undefined) {
    // No whole pair to keep. Certificate first: a crash in between leaves at most a lone key,
    // which reads as incomplete, never as a mismatched pair.
    for (const e of [cert, key]) if (isStray(e.state)) await io('remove', e.path, () => unlink(e.path));
  }
  // Otherwise links replace strays one at a time; each one replaced shows the current pair.
  for (const e of entries) {
    if (e.state === 'ours') continue;
    const staged = join(idDir, uniqueName(TEMP_PREFIX));
    try {
      await io('create symlink', staged, () => symlink(e.target, staged));
      await io('replace', e.path, () => rename(staged, e.path));
    } catch (err) {
      await rm(staged, { force: true }).catch(() => undefined);
      throw err;
    }
  }
  await syncDir(idDir);
  await step('links-ready');
}

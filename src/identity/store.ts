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
 * has verified the certificate. Every operation goes through the checked, open directory
 * (dir-handle.ts), never through its path again.
 */
import { chmod, mkdir, readFile, readdir, rename, rm, symlink, unlink, readlink } from 'node:fs/promises';
import { AttestorError } from '../errors.js';
import { silentLogger } from '../log/logger.js';
import type { Logger } from '../log/logger.js';
import { usingIdentityDir } from './dir.js';
import type { IdentityDir } from './dir-handle.js';
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
 * Replaces the identity document in `target` with `doc`. A path is checked and opened first (as
 * openIdentityDir does); an open IdentityDir is used as it is. On failure before the new pair is
 * published, nothing changes and the pieces written so far are removed (ERR_IO). Once published,
 * the write has succeeded: later trouble (syncing the directory, removing the old generation) is
 * logged, not thrown, so a caller never believes the old pair is still in place when it is not.
 */
export async function writeIdentity(
  target: IdentityDir | string,
  doc: IdentityDocument,
  options: WriteOptions = {},
): Promise<IdentityPaths> {
  return usingIdentityDir(target, (dir) => writeInto(dir, doc, options));
}

async function writeInto(
  dir: IdentityDir,
  doc: IdentityDocument,
  options: WriteOptions,
): Promise<IdentityPaths> {
  const logger = options.logger ?? silentLogger;
  const step: Step = async (s) => {
    await options.onStep?.(s);
  };
  const release = await acquireWriteLock(dir, {
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    onBreak: (reason) => {
      logger.warn('breaking a stale identity directory lock', { dir: dir.path, reason });
    },
  });
  try {
    await step('locked');
    await ensureStableLinks(dir, step);
    const generation = await stageGeneration(dir, { key: doc.keyPem, cert: doc.chainPem }, 'write', step);
    await publishGeneration(dir, generation, 'write', step);
    await finishAfterPublish(dir, generation, step, logger);
  } finally {
    await release();
  }
  return identityPaths(dir.path);
}

/** Writes a complete generation directory; removes it again on any failure. Returns its name. */
async function stageGeneration(
  dir: IdentityDir,
  files: { readonly key: string | Buffer; readonly cert: string | Buffer },
  phase: 'adopt' | 'write',
  step: Step,
): Promise<string> {
  const name = uniqueName(GENERATION_PREFIX);
  try {
    await io('create directory', dir.shown(name), async () => {
      await mkdir(dir.at(name), { mode: GENERATION_MODE });
      await chmod(dir.at(name), GENERATION_MODE);
    });
    await step(`${phase}:generation-created`);
    await writeNewFile(dir, `${name}/${KEY_FILE}`, files.key, KEY_MODE);
    await step(`${phase}:key-written`);
    await writeNewFile(dir, `${name}/${CERT_FILE}`, files.cert, CERT_MODE);
    await step(`${phase}:cert-written`);
    await syncDir(dir, name);
    await step(`${phase}:generation-synced`);
    return name;
  } catch (err) {
    await rm(dir.at(name), { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

/** The one atomic switch: rename a fresh symlink over `.id-doc-current`. On failure, removes the generation. */
async function publishGeneration(
  dir: IdentityDir,
  generation: string,
  phase: 'adopt' | 'write',
  step: Step,
): Promise<void> {
  const staged = uniqueName(TEMP_PREFIX);
  try {
    await io('create symlink', dir.shown(staged), () => symlink(generation, dir.at(staged)));
    await step(`${phase}:link-staged`);
    await io('replace', dir.shown(CURRENT_LINK), () => rename(dir.at(staged), dir.at(CURRENT_LINK)));
  } catch (err) {
    await rm(dir.at(staged), { force: true }).catch(() => undefined);
    await rm(dir.at(generation), { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

async function finishAfterPublish(
  dir: IdentityDir,
  generation: string,
  step: Step,
  logger: Logger,
): Promise<void> {
  try {
    await step('published');
    await syncDir(dir);
    await step('dir-synced');
  } catch (err) {
    // Without a durable rename, a crash could bring back the old link: keep what it points to.
    logger.warn(
      'identity document written, but its directory could not be synced; keeping the previous generation',
      {
        dir: dir.path,
        error: err instanceof Error ? err.message : String(err),
      },
    );
    return;
  }
  try {
    await collectGarbage(dir, generation);
    await step('cleaned');
  } catch (err) {
    logger.warn('identity document written, but old generations could not be removed', {
      dir: dir.path,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}

/** Removes every generation except `keep`, and leftovers of interrupted writes. Runs under the lock. */
async function collectGarbage(dir: IdentityDir, keep: string): Promise<void> {
  // Only when `keep` is really current: if a broken stale lock let another writer in, leave things be.
  if ((await currentGeneration(dir)) !== keep) return;
  const names = await io('list', dir.path, () => readdir(dir.at()));
  for (const name of names) {
    const leftover =
      (name.startsWith(GENERATION_PREFIX) && name !== keep) ||
      name.startsWith(TEMP_PREFIX) ||
      name.startsWith(PROBE_PREFIX);
    if (leftover)
      await io('remove', dir.shown(name), () => rm(dir.at(name), { recursive: true, force: true }));
  }
}

const isStray = (state: EntryState): boolean => state === 'file' || state === 'foreign-link';

interface Entry {
  readonly name: string;
  readonly target: string;
  readonly state: EntryState;
}

/**
 * The contents both names show when neither is one of our links, or undefined when one is absent.
 * Hand-placed links are followed, as a plain reader would (only someone who may write this
 * checked directory can have placed them).
 */
async function readShownPair(
  dir: IdentityDir,
  key: Entry,
  cert: Entry,
): Promise<{ key: Buffer; cert: Buffer } | undefined> {
  if (!isStray(key.state) || !isStray(cert.state)) return undefined;
  const read = (name: string): Promise<Buffer | undefined> =>
    io('read', dir.shown(name), () =>
      readFile(dir.at(name)).catch((err: unknown) => {
        if (errnoCode(err) === 'ENOENT') return undefined; // a dangling link
        throw err;
      }),
    );
  const [k, c] = [await read(key.name), await read(cert.name)];
  return k === undefined || c === undefined ? undefined : { key: k, cert: c };
}

type EntryState = 'ours' | 'missing' | 'file' | 'foreign-link';

async function entryState(dir: IdentityDir, name: string, target: string): Promise<EntryState> {
  const path = dir.shown(name);
  const st = await io('inspect', path, () => lstatIfExists(dir, name));
  if (st === undefined) return 'missing';
  if (st.isSymbolicLink())
    return (await io('read symlink', path, () => readlink(dir.at(name)))) === target
      ? 'ours'
      : 'foreign-link';
  if (st.isFile()) return 'file';
  throw new AttestorError('ERR_IO', `cannot replace ${path}: it is not a regular file; remove it`, {
    details: { path },
  });
}

/**
 * Makes id-doc.key/crt the stable symlinks, so the rename of `.id-doc-current` swaps both. Done
 * once per directory, in an order that never shows a mismatched pair at any point in between.
 */
async function ensureStableLinks(dir: IdentityDir, step: Step): Promise<void> {
  const entry = async (name: string, target: string): Promise<Entry> => ({
    name,
    target,
    state: await entryState(dir, name, target),
  });
  const entries = [await entry(KEY_FILE, KEY_LINK_TARGET), await entry(CERT_FILE, CERT_LINK_TARGET)] as const;
  const [key, cert] = entries;
  if (key.state === 'ours' && cert.state === 'ours') return;

  const shown = await readShownPair(dir, key, cert);
  if (shown !== undefined) {
    // A pair not managed by links (an older version wrote plain files): copy it into a generation
    // and publish that first, so while the paths become links one by one, each already shows
    // that same pair.
    const generation = await stageGeneration(dir, shown, 'adopt', step);
    await publishGeneration(dir, generation, 'adopt', step);
    await syncDir(dir);
    await step('adopted');
  } else if ((await currentGeneration(dir)) === undefined) {
    // No whole pair to keep. Certificate first: a crash in between leaves at most a lone key,
    // which reads as incomplete, never as a mismatched pair.
    for (const e of [cert, key])
      if (isStray(e.state)) await io('remove', dir.shown(e.name), () => unlink(dir.at(e.name)));
  }
  // Otherwise links replace strays one at a time; each one replaced shows the current pair.
  for (const e of entries) {
    if (e.state === 'ours') continue;
    const staged = uniqueName(TEMP_PREFIX);
    try {
      await io('create symlink', dir.shown(staged), () => symlink(e.target, dir.at(staged)));
      await io('replace', dir.shown(e.name), () => rename(dir.at(staged), dir.at(e.name)));
    } catch (err) {
      await rm(dir.at(staged), { force: true }).catch(() => undefined);
      throw err;
    }
  }
  await syncDir(dir);
  await step('links-ready');
}

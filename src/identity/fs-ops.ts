/**
 * The few file-system primitives the identity store is built from, each with one guarantee. All
 * of them work inside a checked, open IdentityDir; names are relative to it.
 */
import { constants } from 'node:fs';
import type { Stats } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { IdentityDir } from './dir-handle.js';
import { errnoCode, io } from './io-error.js';
import { CURRENT_LINK, isGenerationName } from './layout.js';

const { O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_WRONLY } = constants;

/**
 * Creates `name` (which must not exist: O_EXCL, so an existing file or symlink is never reused
 * or followed) with exactly `mode` from the first byte, writes `data` and fsyncs it.
 */
export async function writeNewFile(
  dir: IdentityDir,
  name: string,
  data: string | Buffer,
  mode: number,
): Promise<void> {
  await io('write', dir.shown(name), async () => {
    let fh: FileHandle | undefined;
    try {
      fh = await open(dir.at(name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
      // open() applies the umask, which may only remove bits; set the documented mode exactly.
      await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh?.close();
    }
  });
}

/** Reads `name`, refusing to follow it if it is a symlink (ELOOP). */
export async function readNoFollow(dir: IdentityDir, name: string): Promise<Buffer> {
  const fh = await open(dir.at(name), O_RDONLY | O_NOFOLLOW);
  try {
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** fsync a directory inside `dir` (or `dir` itself) so renames and new entries in it survive a power loss. */
export async function syncDir(dir: IdentityDir, name?: string): Promise<void> {
  await io('sync directory', name === undefined ? dir.path : dir.shown(name), async () => {
    const fh = name === undefined ? undefined : await open(dir.at(name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    try {
      await (fh ?? dir).sync();
    } catch (err) {
      // Some file systems cannot fsync a directory; they give no stronger guarantee to ask for.
      if (errnoCode(err) !== 'EINVAL' && errnoCode(err) !== 'ENOTSUP') throw err;
    } finally {
      await fh?.close();
    }
  });
}

/** lstat, or undefined when nothing is there. */
export async function lstatIfExists(dir: IdentityDir, name: string): Promise<Stats | undefined> {
  try {
    return await lstat(dir.at(name));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The generation `.id-doc-current` points at, when it is one of ours and is a real directory;
 * undefined when there is none (first write, an older layout, or a generation removed by hand).
 */
export async function currentGeneration(dir: IdentityDir): Promise<string | undefined> {
  let target: string;
  try {
    target = await readlink(dir.at(CURRENT_LINK));
  } catch (err) {
    const code = errnoCode(err);
    // EINVAL: a non-symlink squats the name; the next write replaces it.
    if (code === 'ENOENT' || code === 'EINVAL') return undefined;
    throw err;
  }
  if (!isGenerationName(target)) return undefined;
  // lstat: a generation is a directory we made, never a link leading elsewhere.
  return (await lstatIfExists(dir, target))?.isDirectory() === true ? target : undefined;
}

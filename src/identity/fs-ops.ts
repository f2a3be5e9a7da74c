/** The few file-system primitives the identity store is built from, each with one guarantee. */
import { lstat, open, readlink, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { errnoCode, io } from './io-error.js';
import { CURRENT_LINK, isGenerationName } from './layout.js';

/**
 * Creates `path` (which must not exist: O_EXCL, so an existing file or symlink is never reused
 * or followed) with exactly `mode` from the first byte, writes `data` and fsyncs it.
 */
export async function writeNewFile(path: string, data: string | Buffer, mode: number): Promise<void> {
  await io('write', path, async () => {
    let fh: FileHandle | undefined;
    try {
      fh = await open(path, 'wx', mode);
      // open() applies the umask, which may only remove bits; set the documented mode exactly.
      await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh?.close();
    }
  });
}

/** fsync a directory so renames and new entries in it survive a power loss. */
export async function syncDir(path: string): Promise<void> {
  await io('sync directory', path, async () => {
    const fh = await open(path, 'r');
    try {
      await fh.sync();
    } catch (err) {
      // Some file systems cannot fsync a directory; they give no stronger guarantee to ask for.
      if (errnoCode(err) !== 'EINVAL' && errnoCode(err) !== 'ENOTSUP') throw err;
    } finally {
      await fh.close();
    }
  });
}

/** lstat, or undefined when nothing is there. */
export async function lstatIfExists(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The generation `.id-doc-current` points at, when it is one of ours and exists; undefined when
 * there is none (first write, an older layout, or a generation removed by hand).
 */
export async function currentGeneration(idDir: string): Promise<string | undefined> {
  const linkPath = join(idDir, CURRENT_LINK);
  let target: string;
  try {
    target = await readlink(linkPath);
  } catch (err) {
    const code = errnoCode(err);
    // EINVAL: a non-symlink squats the name; the next write replaces it.
    if (code === 'ENOENT' || code === 'EINVAL') return undefined;
    throw err;
  }
  if (!isGenerationName(target)) return undefined;
  try {
    return (await stat(join(idDir, target))).isDirectory() ? target : undefined;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Opening a directory by path without trusting the path: the walk OpenSSH's StrictModes does,
 * made on open descriptors so that what was checked is what gets used.
 *
 * Node has no openat(2). On Linux, `/proc/self/fd/<fd>/<name>` does the same job: the kernel
 * resolves `/proc/self/fd/<fd>` to the very directory that descriptor holds open (whatever its
 * path has become since) and looks `name` up in it. Each step of the walk, and every later
 * operation in the identity directory (dir-handle.ts), goes through such a path, so a name
 * swapped after its check (a directory renamed away, a symlink put in its place) is never
 * followed. Linux-only, like the product; /proc must be mounted (checked first).
 */
import { constants } from 'node:fs';
import type { Stats } from 'node:fs';
import { lstat, mkdir, open, readlink, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AttestorError } from '../errors.js';
import { errnoCode, ioError } from './io-error.js';

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
/** Symbolic links followed on the way to the directory, at most (as the kernel's own walk). */
const MAX_LINKS = 40;
/** Directories created above the target: nobody else may write them. */
const PARENT_MODE = 0o755;

/** `name` (relative; may contain '/') inside the directory open as `fd`. */
export function procPath(fd: number, name = ''): string {
  return `/proc/self/fd/${String(fd)}/${name}`;
}

export interface TrustedDirOptions {
  /** Create the directory (and missing parents, 0755) when absent. */
  readonly create: boolean;
  /** Exact mode of a created target directory (not filtered by the umask). */
  readonly mode: number;
  /** How messages name the directory, e.g. "identity directory". */
  readonly what: string;
  /** The setting a user changes to pick another directory, e.g. "-id-dir". */
  readonly setting: string;
}

export interface TrustedDir {
  readonly handle: FileHandle;
  readonly stats: Stats;
}

interface Open {
  readonly handle: FileHandle;
  readonly stats: Stats;
  /** The absolute path walked to it, for messages. */
  readonly path: string;
}

const octal = (mode: number): string => `0${(mode & 0o7777).toString(8)}`;
const othersMayWrite = (st: Stats): boolean => (st.mode & 0o022) !== 0;
/** S_ISVTX; node:fs does not export it. */
const sticky = (st: Stats): boolean => (st.mode & 0o1000) !== 0;

/**
 * Opens `path` as a directory after checking everything a user other than root or us could use
 * to redirect it:
 * - every directory on the way (from `/`) belongs to root or to us; one that its group or others
 *   may write must be sticky (like /tmp): then nobody else may rename or remove what we own there;
 * - a symbolic link on the way is followed only when the directory holding it passed those checks
 *   (and, in a sticky directory, when the link is ours or root's); its target is walked the same way;
 * - the target itself is a real directory (never a symlink), owned by us, that neither its group
 *   nor others may write.
 * Returns undefined when the directory does not exist and `create` is false.
 */
export async function openTrustedDirectory(
  path: string,
  o: TrustedDirOptions,
): Promise<TrustedDir | undefined> {
  const euid = process.geteuid?.();
  if (euid === undefined)
    throw new AttestorError('ERR_IO', `cannot check ${o.what} ${path}: this needs Linux`, {
      details: { path },
    });
  const unsafe = (problem: string, extra: Record<string, string | number> = {}): AttestorError =>
    new AttestorError('ERR_UNSAFE_DIR', `${o.what} ${path} ${problem}`, { details: { path, ...extra } });
  const elsewhere = `choose another ${o.setting}`;
  const failed = (action: string) => (err: unknown) => {
    throw ioError(`${action} ${o.what}`, path, err);
  };

  /** A directory on the way belongs to root or to us: anyone else could replace what is below it. */
  const checkOwner = (d: Open): void => {
    if (d.stats.uid !== euid && d.stats.uid !== 0)
      throw unsafe(
        `is not safe: ${d.path} is owned by uid ${d.stats.uid}, who could replace anything below it: use directories that belong to root or to you (uid ${euid}), or ${elsewhere}`,
        { parent: d.path, uid: d.stats.uid },
      );
  };

  let cur = await openRoot(path, o);
  /** The directories `cur` was reached through, held open: ".." goes back to them. */
  const above: Open[] = [];
  const pending = resolve(path)
    .split('/')
    .filter((c) => c !== '');
  const created = new Set<string>();
  let links = 0;
  let done = false;
  try {
    checkOwner(cur);
    for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
      const last = pending.length === 0;
      if (name === '.') continue;
      if (name === '..') {
        // Only from a link's target (resolve() removed the path's own): the directory we came
        // through, which is the kernel's ".." too, already checked and still open.
        const up = above.pop();
        if (up !== undefined) {
          await cur.handle.close();
          cur = up;
        }
        continue;
      }
      const childPath = join(cur.path, name);
      const at = procPath(cur.handle.fd, name);
      if (othersMayWrite(cur.stats) && !sticky(cur.stats))
        throw unsafe(
          `is not safe: ${cur.path} is writable by ${(cur.stats.mode & 0o002) !== 0 ? 'others' : 'its group'} (mode ${octal(cur.stats.mode)}) without the sticky bit, so another user could replace ${childPath}: run chmod go-w ${cur.path}, or ${elsewhere}`,
          { parent: cur.path, mode: octal(cur.stats.mode) },
        );

      let handle: FileHandle;
      try {
        handle = await open(at, DIR_FLAGS);
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT') {
          if (!o.create) return undefined;
          if (created.has(childPath)) throw ioError(`create ${o.what}`, path, err); // removed again at once
          created.add(childPath);
          await mkdir(at, { mode: last ? o.mode : PARENT_MODE }).catch((e: unknown) => {
            // Made by someone else meanwhile: it is opened and checked like any other below.
            if (errnoCode(e) !== 'EEXIST') failed('create')(e);
          });
          pending.unshift(name);
          continue;
        }
        // O_DIRECTORY|O_NOFOLLOW reports a symlink as ENOTDIR (or ELOOP): look at what it is.
        if (code !== 'ENOTDIR' && code !== 'ELOOP') failed('open')(err);
        const st = await lstat(at).catch(failed('open'));
        if (!st.isSymbolicLink()) {
          if (last)
            throw new AttestorError('ERR_IO', `cannot use ${o.what} ${path}: it is not a directory`, {
              details: { path },
            });
          if (!o.create) return undefined; // a file where a parent would be: nothing stored there
          return failed('create')(Object.assign(new Error('not a directory'), { code: 'ENOTDIR' }));
        }
        if (last)
          throw unsafe(
            `is a symbolic link; refusing it, since whoever can change the link decides where the key goes: remove it, or give the real directory's path in ${o.setting}`,
          );
        if (sticky(cur.stats) && othersMayWrite(cur.stats) && st.uid !== euid && st.uid !== 0)
          throw unsafe(
            `is not safe: ${childPath} is a symbolic link owned by uid ${st.uid} in the shared directory ${cur.path}, so that user decides where it leads: remove it or ${elsewhere}`,
            { link: childPath, uid: st.uid },
          );
        if (++links > MAX_LINKS)
          return failed('open')(Object.assign(new Error('too many links'), { code: 'ELOOP' }));
        const target = await readlink(at).catch(failed('open'));
        if (target.startsWith('/'))
          for (let up = above.pop(); up !== undefined; up = above.pop()) {
            await cur.handle.close();
            cur = up;
          }
        pending.unshift(...target.split('/').filter((c) => c !== ''));
        continue;
      }
      above.push(cur);
      cur = { handle, stats: await handle.stat(), path: childPath };
      if (!last) checkOwner(cur);
    }

    if (created.has(cur.path)) {
      // mkdir's mode went through the umask: make it exactly the documented one.
      await cur.handle.chmod(o.mode).catch(failed('create'));
      cur = { ...cur, stats: await cur.handle.stat() };
    }
    const { uid, mode } = cur.stats;
    if (uid !== euid)
      throw unsafe(`is owned by uid ${uid}, not by you (uid ${euid}): remove it or ${elsewhere}`, { uid });
    if (othersMayWrite(cur.stats))
      throw unsafe(
        `is writable by group or others (mode ${octal(mode)}), so another user could replace the identity document: run chmod go-w ${path}`,
        { mode: octal(mode) },
      );
    done = true;
    return { handle: cur.handle, stats: cur.stats };
  } finally {
    const held = done ? above : [...above, cur];
    await Promise.all(held.map((d) => d.handle.close().catch(() => undefined)));
  }
}

/** `/`, opened first, and the proof that /proc/self/fd works here. */
async function openRoot(path: string, o: TrustedDirOptions): Promise<Open> {
  const handle = await open('/', DIR_FLAGS);
  try {
    const stats = await handle.stat();
    const viaProc = await stat(procPath(handle.fd)).catch(() => undefined);
    if (viaProc?.ino !== stats.ino || viaProc.dev !== stats.dev)
      throw new AttestorError(
        'ERR_IO',
        `cannot check ${o.what} ${path}: /proc is not mounted (node-attestor works inside the checked directory through /proc/self/fd)`,
        { details: { path } },
      );
    return { handle, stats, path: '/' };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

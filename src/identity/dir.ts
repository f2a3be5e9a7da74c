/**
 * The identity directory: created 0700; refused when another user could change it; checked for
 * writability before anything else happens, so a bad directory never leaves a CSR behind.
 */
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { AttestorError } from '../errors.js';
import { errnoCode, io, ioError } from './io-error.js';
import { CERT_FILE, CURRENT_LINK, DIR_MODE, KEY_FILE, PROBE_PREFIX, uniqueName } from './layout.js';
import { lstatIfExists, writeNewFile } from './fs-ops.js';

async function statIfExists(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (err) {
    // ENOTDIR: a parent is a file; creating it reports that as "cannot create".
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}

async function mkdirOnce(path: string): Promise<void> {
  await mkdir(path, { mode: DIR_MODE });
  // mkdir's mode is filtered by the umask; make it exactly 0700.
  await chmod(path, DIR_MODE);
}

const octal = (mode: number): string => `0${(mode & 0o7777).toString(8)}`;

/**
 * Creates the directory (mode 0700, parents with default modes) or checks an existing one. An
 * existing directory that is group/world-writable, or owned by another non-root user, is refused
 * rather than silently re-moded: whoever else can write it can swap the identity document
 * under us (the classic pre-created /tmp directory). Its read bits are left as the owner set them;
 * the key file is 0600 regardless.
 */
export async function ensureIdentityDir(idDir: string): Promise<void> {
  // stat, not lstat: a symlinked directory is fine; its target's owner and mode are what count.
  let st = await io('inspect identity directory', idDir, () => statIfExists(idDir));
  if (st === undefined) {
    await io('create identity directory', idDir, async () => {
      try {
        await mkdirOnce(idDir).catch(async (err: unknown) => {
          if (errnoCode(err) !== 'ENOENT') throw err;
          await mkdir(dirname(idDir), { recursive: true });
          await mkdirOnce(idDir);
        });
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err; // someone else created it: check it below
      }
    });
    st = await io('inspect identity directory', idDir, () => statIfExists(idDir));
  }
  if (st?.isDirectory() !== true)
    throw new AttestorError(
      'ERR_IO',
      `cannot use identity directory ${idDir}: ${st === undefined ? 'it vanished while being created' : 'it is not a directory'}`,
      { details: { path: idDir } },
    );
  if ((st.mode & 0o022) !== 0)
    throw new AttestorError(
      'ERR_IO',
      `refusing identity directory ${idDir}: it is writable by group or others (mode ${octal(st.mode)}), so another user could replace the identity document; run chmod go-w ${idDir}`,
      { details: { path: idDir, mode: octal(st.mode) } },
    );
  const euid = process.geteuid?.();
  if (euid !== undefined && st.uid !== euid && st.uid !== 0)
    throw new AttestorError(
      'ERR_IO',
      `refusing identity directory ${idDir}: it is owned by uid ${st.uid}, not by this user (uid ${euid}) or root`,
      { details: { path: idDir, uid: st.uid } },
    );
}

/**
 * Proves the directory accepts new files (permissions, read-only mounts, full disks all show up
 * here) and that nothing unexpected occupies the identity document's names.
 */
export async function checkIdentityDirUsable(idDir: string): Promise<void> {
  const probe = join(idDir, uniqueName(PROBE_PREFIX));
  try {
    await writeNewFile(probe, '', 0o600);
  } catch (err) {
    throw ioError('write to identity directory', idDir, err instanceof AttestorError ? err.cause : err);
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
  for (const name of [KEY_FILE, CERT_FILE, CURRENT_LINK]) {
    const path = join(idDir, name);
    const st = await io('inspect', path, () => lstatIfExists(path));
    if (st !== undefined && !st.isFile() && !st.isSymbolicLink())
      throw new AttestorError(
        'ERR_IO',
        `cannot use identity directory ${idDir}: ${path} is ${st.isDirectory() ? 'a directory' : 'not a regular file'}; remove it`,
        { details: { path } },
      );
  }
}

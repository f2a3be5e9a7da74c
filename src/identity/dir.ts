/**
 * The identity directory: created 0700 or checked (safe-open.ts: not a symlink, ours, and
 * nothing above it that another user could replace), then held open; checked for writability
 * before anything else happens, so a bad directory never leaves a CSR behind.
 */
import { rm } from 'node:fs/promises';
import { AttestorError } from '../errors.js';
import { IdentityDir } from './dir-handle.js';
import { io, ioError } from './io-error.js';
import { CERT_FILE, CURRENT_LINK, DIR_MODE, KEY_FILE, PROBE_PREFIX, uniqueName } from './layout.js';
import { lstatIfExists, writeNewFile } from './fs-ops.js';
import { openTrustedDirectory } from './safe-open.js';

/** How messages name the setting that picks the directory when the caller does not say. */
const DEFAULT_SETTING = 'identity directory';

/**
 * Creates the directory (mode 0700, missing parents 0755) or checks the existing one, and opens
 * it. Refused (ERR_UNSAFE_DIR) when it is a symlink, is not owned by the running user, is
 * writable by group or others, or sits below a directory another user could change. Its read
 * bits are left as the owner set them; the key file is 0600 regardless. The caller closes it.
 * `setting` names what the user changes to pick another one ("-id-dir", "identity_dir").
 */
export async function openIdentityDir(idDir: string, setting = DEFAULT_SETTING): Promise<IdentityDir> {
  const opened = await openTrustedDirectory(idDir, {
    create: true,
    mode: DIR_MODE,
    what: 'identity directory',
    setting,
  });
  if (opened === undefined)
    throw new AttestorError('ERR_IO', `cannot create identity directory ${idDir}: it vanished`, {
      details: { path: idDir },
    });
  return new IdentityDir(idDir, opened.handle);
}

/** Like openIdentityDir, but undefined (nothing created) when the directory does not exist. */
export async function openExistingIdentityDir(idDir: string): Promise<IdentityDir | undefined> {
  const opened = await openTrustedDirectory(idDir, {
    create: false,
    mode: DIR_MODE,
    what: 'identity directory',
    setting: DEFAULT_SETTING,
  });
  return opened === undefined ? undefined : new IdentityDir(idDir, opened.handle);
}

/**
 * Proves the directory accepts new files (permissions, read-only mounts, full disks all show up
 * here) and that nothing unexpected occupies the identity document's names.
 */
export async function checkIdentityDirUsable(dir: IdentityDir): Promise<void> {
  const probe = uniqueName(PROBE_PREFIX);
  try {
    await writeNewFile(dir, probe, '', 0o600);
  } catch (err) {
    throw ioError('write to identity directory', dir.path, err instanceof AttestorError ? err.cause : err);
  } finally {
    await rm(dir.at(probe), { force: true }).catch(() => undefined);
  }
  for (const name of [KEY_FILE, CERT_FILE, CURRENT_LINK]) {
    const st = await io('inspect', dir.shown(name), () => lstatIfExists(dir, name));
    if (st !== undefined && !st.isFile() && !st.isSymbolicLink())
      throw new AttestorError(
        'ERR_IO',
        `cannot use identity directory ${dir.path}: ${dir.shown(name)} is ${st.isDirectory() ? 'a directory' : 'not a regular file'}; remove it`,
        { details: { path: dir.shown(name) } },
      );
  }
}

/** Runs `use` on `target`, creating or checking, opening and afterwards closing it when given as a path. */
export async function usingIdentityDir<T>(
  target: IdentityDir | string,
  use: (dir: IdentityDir) => Promise<T>,
): Promise<T> {
  if (typeof target !== 'string') return use(target);
  const dir = await openIdentityDir(target);
  try {
    return await use(dir);
  } finally {
    await dir.close();
  }
}

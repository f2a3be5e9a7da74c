/** ERR_IO errors that name the path and the operating system's reason in words. */
import { AttestorError } from '../errors.js';

const REASONS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'a path component is not a directory',
  EISDIR: 'it is a directory',
  ENOENT: 'no such file or directory',
  EEXIST: 'it already exists',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  EBUSY: 'resource busy',
};

/** The errno code of a Node fs error ("EACCES"), if it is one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const { code } = err;
  return typeof code === 'string' && code.startsWith('E') ? code : undefined;
}

/** e.g. ioError('create identity directory', '/root/x', err) → "cannot create identity directory /root/x: permission denied". */
export function ioError(action: string, path: string, err: unknown): AttestorError {
  if (err instanceof AttestorError) return err;
  const code = errnoCode(err);
  const reason =
    (code === undefined ? undefined : REASONS[code]) ?? (err instanceof Error ? err.message : String(err));
  return new AttestorError('ERR_IO', `cannot ${action} ${path}: ${reason}`, {
    cause: err,
    details: code === undefined ? { path } : { path, errno: code },
  });
}

/** Runs `op`, turning any failure into ioError(action, path). */
export async function io<T>(action: string, path: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw ioError(action, path, err);
  }
}

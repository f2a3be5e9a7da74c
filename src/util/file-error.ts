const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
};

/** Why a file could not be read, in the words messages use: the OS reason only, never content. */
export function fileErrorReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === undefined) return 'unreadable';
  return REASONS[code] ?? code;
}

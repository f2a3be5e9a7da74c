/**
 * Tools outside Node that some tests use (openssl, bash…). `npm test` needs nothing but Node:
 * a test that needs such a tool skips, naming it, when the tool is not on PATH.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Absolute path of the executable `name` on `path` (default: PATH), or undefined. */
export function onPath(name: string, path: string = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** For node:test's `skip`: false when every tool is on PATH, else why the test cannot run. */
export function needs(...names: readonly string[]): string | false {
  const absent = names.filter((n) => onPath(n) === undefined);
  return absent.length === 0 ? false : `${absent.join(', ')} not installed`;
}

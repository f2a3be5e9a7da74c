/**
 * The Node flags a bundled plugin's launcher line gives node (scripts/build.mjs): spire-server
 * execs the file, /bin/sh runs that line, and node starts with the flags. The benchmarks start
 * the plugin with a chosen node binary instead, so they pass the same flags themselves.
 */
import { readFileSync } from 'node:fs';

const LAUNCHER = /^":" \/\/; exec node (.*) "\$0" "\$@"$/m;

/** The flags on `file`'s launcher line; none for a file that starts with `#!/usr/bin/env node`. */
export function launcherFlags(file: string): string[] {
  const head = readFileSync(file, 'utf8').slice(0, 1000);
  if (!head.startsWith('#!/bin/sh\n')) return [];
  const m = LAUNCHER.exec(head);
  if (m?.[1] === undefined) throw new Error(`${file}: a #!/bin/sh plugin without the launcher line`);
  return m[1].split(' ').filter((f) => f !== '');
}

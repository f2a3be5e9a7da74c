/**
 * What a benchmark runs a process under: a pinned Node line (tools/node-runtimes.json, installed by
 * tools/node-runtime.sh, as CI and the build use them) or the single executable, which carries the
 * shipped line inside.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../test/harness/bins.js';

export interface NodeBinary {
  /** "Node 26.12.1". */
  readonly label: string;
  readonly path: string;
}

/** The pinned Node of `line` ("22", "24", "26" or "shipped"), installed on first use. */
export function pinnedNode(line: string): NodeBinary {
  const path = execFileSync('bash', [join(REPO_ROOT, 'tools', 'node-runtime.sh'), line], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
  return { label: `Node ${version}`, path };
}

/** A file in dist/: the single executable, its plugin links or a bundle (npm run build). */
export const distFile = (name: string): string => join(REPO_ROOT, 'dist', name);

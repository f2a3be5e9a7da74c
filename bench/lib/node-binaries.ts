/**
 * The Node binaries a benchmark runs a process under: this one, and Node 24 (the current LTS, from
 * npm's `node@24` package, as .ci/run does). BENCH_NODE24 names a binary instead; BENCH_NODE24=0
 * skips it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export interface NodeBinary {
  /** "Node 20.20.2". */
  readonly label: string;
  readonly path: string;
}

const run = promisify(execFile);

async function version(path: string): Promise<string> {
  const { stdout } = await run(path, ['--version'], { timeout: 30_000 });
  return stdout.trim().replace(/^v/, '');
}

export function thisNode(): NodeBinary {
  return { label: `Node ${process.versions.node}`, path: process.execPath };
}

/** Node 24, or a reason it is not available. */
export async function node24(): Promise<NodeBinary | { skipped: string }> {
  const env = process.env.BENCH_NODE24;
  if (env === '0') return { skipped: 'BENCH_NODE24=0' };
  try {
    const path =
      env !== undefined && env !== ''
        ? env
        : (
            await run('npx', ['--yes', 'node@24', '-p', 'process.execPath'], { timeout: 300_000 })
          ).stdout.trim();
    return { label: `Node ${await version(path)}`, path };
  } catch (err) {
    return {
      skipped: `node@24 unavailable: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
    };
  }
}

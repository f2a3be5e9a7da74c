/**
 * Where the real test binaries are: asks tools/build-test-bins.sh (the one place that knows
 * the pinned versions and the cache layout) instead of duplicating its logic.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type BinName =
  | 'etcd'
  | 'kube-apiserver'
  | 'kube-controller-manager'
  | 'kubectl'
  | 'kube-scheduler'
  | 'kubelet'
  | 'bridge'
  | 'host-local'
  | 'loopback'
  | 'portmap'
  | 'spire-server'
  | 'spire-agent';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../../tools/build-test-bins.sh', import.meta.url));

let cached: Map<string, string> | undefined;

function listBins(): Map<string, string> {
  if (cached !== undefined) return cached;
  let out: string;
  try {
    out = execFileSync('bash', [SCRIPT, '--print'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // Exit 3 = some are missing; the listing is still on stdout.
    const e = err as { status?: number; stdout?: string };
    if (e.status !== 3 || e.stdout === undefined) throw err;
    out = e.stdout;
  }
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0 && i < line.length - 1) m.set(line.slice(0, i), line.slice(i + 1));
  }
  cached = m;
  return m;
}

/** Absolute path of a built test binary, or a clear error saying how to build it. */
export function binPath(name: BinName): string {
  const env = process.env[`NODE_ATTESTOR_${name.toUpperCase().replaceAll('-', '_')}`];
  if (env !== undefined && env !== '') return env;
  const p = listBins().get(name);
  if (p === undefined)
    throw new Error(
      `test binary ${name} is not built; run: npm run test-bins (builds it once into ~/.cache/node-attestor)`,
    );
  return p;
}

/** binPath's file if it is built and there, else undefined: for unit tests that skip without it. */
export function builtBinPath(name: BinName): string | undefined {
  try {
    const p = binPath(name);
    return existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

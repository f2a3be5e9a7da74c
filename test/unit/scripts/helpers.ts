/** A sandbox for running tools/build-test-bins.sh and scripts/prereqs.mjs with a chosen PATH. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../harness/bins.js';
import { onPath } from '../../support/tools.js';

export const BUILD_SCRIPT = join(REPO_ROOT, 'tools', 'build-test-bins.sh');
export const PREREQS = join(REPO_ROOT, 'scripts', 'prereqs.mjs');
const FAKE_GO = join(REPO_ROOT, 'test', 'support', 'fake-go.mjs');

/** Real tools the scripts run before any build starts (bash and what the script itself uses). */
export const SHELL_TOOLS = ['bash', 'awk', 'dirname'] as const;
/** Tools prereqs.mjs looks for; the sandbox has an empty stand-in for each unless left out. */
const CHECKED_TOOLS = ['gcc', 'flock', 'setpriv', 'openssl', 'buildah'] as const;

export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export interface Sandbox {
  readonly dir: string;
  /** NODE_ATTESTOR_CACHE of the runs: empty, so nothing counts as built. */
  readonly cache: string;
  /** One line per call of the fake go. */
  readonly goLog: string;
  run(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Run;
  remove(): void;
}

/**
 * A temp dir whose bin/ holds node, the real bash/awk/dirname, the fake go and an empty stand-in
 * for gcc, flock, setpriv, openssl and buildah, minus `without`; runs see only that bin/ on PATH (or, with
 * `realPath`, that bin/ in front of the real PATH).
 */
export function sandbox(o: { without?: readonly string[]; realPath?: boolean } = {}): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'na-prereqs-'));
  const bin = join(dir, 'bin');
  const cache = join(dir, 'cache');
  const goLog = join(dir, 'go.log');
  mkdirSync(bin);
  mkdirSync(cache);
  writeFileSync(goLog, '');
  const skip = new Set(o.without ?? []);
  const link = (name: string, target: string): void => {
    if (!skip.has(name)) symlinkSync(target, join(bin, name));
  };
  link('node', process.execPath);
  for (const t of SHELL_TOOLS) {
    const real = onPath(t);
    if (real !== undefined) link(t, real);
  }
  link('go', FAKE_GO);
  if (o.realPath !== true)
    for (const t of CHECKED_TOOLS) {
      if (skip.has(t)) continue;
      writeFileSync(join(bin, t), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    }
  return {
    dir,
    cache,
    goLog,
    run(cmd, args, env = {}) {
      const t0 = performance.now();
      const r = spawnSync(cmd, args, {
        encoding: 'utf8',
        env: {
          HOME: dir,
          PATH: o.realPath === true ? `${bin}:${process.env.PATH ?? ''}` : bin,
          NODE_ATTESTOR_CACHE: cache,
          FAKE_GO_LOG: goLog,
          CI: 'true',
          ...env,
        },
        timeout: 60_000,
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

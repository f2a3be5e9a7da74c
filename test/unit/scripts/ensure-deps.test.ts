import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../harness/bins.js';

const ENSURE_DEPS = join(REPO_ROOT, 'scripts', 'ensure-deps.mjs');

// A project dir whose package-lock.json is newer than its installed tree (as after a git
// checkout), and a fake npm that records that it was called.
function project(o: { linked: boolean }): { dir: string; installed: string; npmLog: string } {
  const dir = mkdtempSync(join(tmpdir(), 'na-deps-'));
  const installed = join(dir, o.linked ? 'shared-node_modules' : 'node_modules');
  mkdirSync(installed);
  writeFileSync(join(installed, '.package-lock.json'), '{}');
  const hourAgo = new Date(Date.now() - 3600_000);
  utimesSync(join(installed, '.package-lock.json'), hourAgo, hourAgo);
  if (o.linked) symlinkSync(installed, join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package-lock.json'), '{}');
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin', 'npm'), '#!/bin/sh\necho "$@" > "$NPM_LOG"\n', { mode: 0o755 });
  return { dir, installed, npmLog: join(dir, 'npm.log') };
}

describe('scripts/ensure-deps.mjs', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const run = (p: ReturnType<typeof project>) => {
    dirs.push(p.dir);
    return spawnSync(process.execPath, [ENSURE_DEPS], {
      cwd: p.dir,
      encoding: 'utf8',
      env: { PATH: join(p.dir, 'bin'), NPM_LOG: p.npmLog },
    });
  };

  it('never runs npm ci through a symlinked node_modules (npm would empty the shared install)', () => {
    const p = project({ linked: true });
    const r = run(p);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(existsSync(p.npmLog), false, 'npm was run');
    assert.match(
      r.stderr,
      /^node-attestor: node_modules links to .*shared-node_modules, which looks older than package-lock\.json; not reinstalling it/,
    );
    assert.ok(existsSync(join(p.installed, '.package-lock.json')));
  });

  it('runs npm ci when its own node_modules is older than package-lock.json', () => {
    const p = project({ linked: false });
    const r = run(p);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(p.npmLog, 'utf8'), 'ci --no-audit --no-fund\n');
  });
});

/**
 * tools/build-images.sh before any build: bad arguments, missing inputs (each named with the
 * command that makes it) and --print, in a copy of the repo's scripts with an empty cache.
 * Building the images themselves is the e2e test's part (test/e2e/images.test.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_ROOT } from '../../harness/bins.js';
import { needs } from '../../support/tools.js';

describe('tools/build-images.sh', { skip: needs('bash', 'ldd', 'sha256sum') }, () => {
  const base = mkdtempSync(join(tmpdir(), 'na-build-images-'));
  after(() => {
    rmSync(base, { recursive: true, force: true });
  });
  // A repo with only what the script reads: its tools, the SPIRE pin, package.json and images/.
  const repo = join(base, 'repo');
  const cache = join(base, 'cache');
  mkdirSync(join(repo, 'tools', 'spire'), { recursive: true });
  mkdirSync(cache);
  for (const f of ['build-images.sh', 'image-rootfs.sh', 'build-test-bins.sh'])
    copyFileSync(join(REPO_ROOT, 'tools', f), join(repo, 'tools', f));
  copyFileSync(join(REPO_ROOT, 'tools', 'spire', 'go.mod'), join(repo, 'tools', 'spire', 'go.mod'));
  copyFileSync(join(REPO_ROOT, 'package.json'), join(repo, 'package.json'));
  cpSync(join(REPO_ROOT, 'images'), join(repo, 'images'), { recursive: true });
  const script = join(repo, 'tools', 'build-images.sh');
  const buildImages = (...args: string[]): { status: number | null; stdout: string; stderr: string } =>
    spawnSync('bash', [script, ...args], {
      encoding: 'utf8',
      env: { ...process.env, NODE_ATTESTOR_CACHE: cache },
    });

  it('rejects an unknown argument with the list of valid ones (exit 2)', () => {
    const r = buildImages('spire');
    assert.equal(r.status, 2);
    assert.equal(
      r.stderr,
      "build-images: unknown argument 'spire' (want node-attestor, spire-server, spire-agent, pause, --print or --context DIR)\n",
    );
  });

  it('without dist/node-attestor: one line naming npm run build, nothing written', () => {
    const r = buildImages('node-attestor');
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `build-images: ${repo}/dist/node-attestor is missing: run npm run build first\n`);
    assert.deepEqual(readdirSync(cache), []);
  });

  it('without SPIRE built: names npm run test-bins; --print says what is not built (exit 3)', () => {
    mkdirSync(join(repo, 'dist'), { recursive: true });
    copyFileSync(process.execPath, join(repo, 'dist', 'node-attestor'));
    writeFileSync(join(repo, 'dist', 'node-attestor.sha256'), 'x  node-attestor\n');
    const spire = buildImages('spire-server');
    assert.equal(spire.status, 1);
    assert.equal(
      spire.stderr,
      'build-images: spire-server is not built: run npm run test-bins (or bash tools/build-test-bins.sh spire)\n',
    );
    const print = buildImages('--print', 'node-attestor');
    assert.equal(print.status, 3, print.stderr);
    assert.equal(print.stdout, 'node-attestor=\n');
    assert.equal(existsSync(join(cache, 'images')), false, 'nothing written to the cache');
  });
});

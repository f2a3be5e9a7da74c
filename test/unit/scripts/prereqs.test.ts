import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { needs } from '../../support/tools.js';
import { BUILD_SCRIPT, PREREQS, SHELL_TOOLS, sandbox, type Sandbox } from './helpers.js';

// The check exists so that a missing tool costs seconds, not the half hour of a cold build.
// Generous for a loaded 2-core machine; the check itself takes ~0.3 s.
const QUICK_MS = 10_000;

describe('prerequisite check (scripts/prereqs.mjs)', { skip: needs(...SHELL_TOOLS) }, () => {
  const boxes: Sandbox[] = [];
  const box = (o: Parameters<typeof sandbox>[0]): Sandbox => {
    const b = sandbox(o);
    boxes.push(b);
    return b;
  };
  after(() => {
    for (const b of boxes) b.remove();
  });

  it('the test-bins build stops in seconds without gcc, names it and how to get it, and starts nothing', () => {
    const b = box({ without: ['gcc'] });
    const r = b.run('bash', [BUILD_SCRIPT]);
    assert.equal(r.status, 1, r.stderr);
    assert.ok(r.ms < QUICK_MS, `took ${r.ms.toFixed(0)} ms`);
    assert.match(r.stderr, /^node-attestor: cannot start the build of the test binaries; missing:$/m);
    assert.match(r.stderr, /^ {2}- gcc: SPIRE's sqlite datastore is built with cgo$/m);
    assert.match(r.stderr, /get it: apt-get install gcc$/m);
    // Go was only asked its version and caches, never to download or build.
    const goCalls = readFileSync(b.goLog, 'utf8').trim().split('\n');
    assert.deepEqual(
      goCalls.filter((c) => !c.startsWith('env ')),
      [],
    );
    assert.equal(existsSync(join(b.cache, 'bin')), false, 'nothing written to the cache');
  });

  it('npm run demo stops in seconds without setpriv, naming util-linux', () => {
    const b = box({ without: ['setpriv'] });
    const r = b.run(process.execPath, [PREREQS, 'demo']);
    assert.equal(r.status, 1, r.stderr);
    assert.ok(r.ms < QUICK_MS, `took ${r.ms.toFixed(0)} ms`);
    assert.match(r.stderr, /^node-attestor: cannot start npm run demo; missing:$/m);
    assert.match(
      r.stderr,
      /^ {2}- setpriv: .*setpriv --pdeathsig.*\n {6}get it: apt-get install util-linux$/m,
    );
    assert.doesNotMatch(r.stderr, /- gcc|- openssl/);
  });

  it('npm run images stops in seconds without buildah, naming the package, and asks for no Go or gcc', () => {
    const b = box({ without: ['buildah', 'go', 'gcc'] });
    const r = b.run(process.execPath, [PREREQS, 'images']);
    assert.equal(r.status, 1, r.stderr);
    assert.ok(r.ms < QUICK_MS, `took ${r.ms.toFixed(0)} ms`);
    assert.match(r.stderr, /^node-attestor: cannot start npm run images; missing:$/m);
    assert.match(
      r.stderr,
      /^ {2}- buildah: builds the container images with no daemon and no registry \(tools\/build-images\.sh\)\n {6}get it: apt-get install buildah$/m,
    );
    assert.doesNotMatch(r.stderr, /- Go|- gcc/);
  });

  it('the end-to-end suite needs buildah too (its image test builds the images)', () => {
    const b = box({ without: ['buildah'] });
    const r = b.run(process.execPath, [PREREQS, 'e2e']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^ {2}- buildah: /m);
  });

  it('lists every missing item at once', () => {
    const b = box({ without: ['gcc', 'setpriv', 'openssl', 'flock'] });
    const r = b.run(process.execPath, [PREREQS, 'e2e']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^node-attestor: cannot start npm run test:e2e; missing:$/m);
    for (const t of ['flock', 'gcc', 'setpriv', 'openssl'])
      assert.match(r.stderr, new RegExp(`^  - ${t}: `, 'm'));
  });

  it('without Go: says which Go and where to get it', () => {
    const b = box({ without: ['go'] });
    const r = b.run(process.execPath, [PREREQS, 'cluster']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /^ {2}- Go >= 1\.26: builds kubernetes, etcd once into the cache\n {6}get it: https:\/\/go\.dev\/doc\/install/m,
    );
  });

  it('a Go older than the tools/ modules need is named with its version', () => {
    const b = box({});
    const r = b.run(process.execPath, [PREREQS, 'test-bins', 'etcd'], { FAKE_GO_VERSION: 'go1.22.5' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^ {2}- Go >= 1\.26 \(this is go1\.22\.5\): builds etcd once/m);
  });

  it('npm run cluster does not ask for gcc or openssl (no SPIRE, no credentials scripts)', () => {
    const b = box({ without: ['gcc', 'openssl'] });
    const r = b.run(process.execPath, [PREREQS, 'cluster']);
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
  });

  it('once the binaries are built, Go, gcc and flock are no longer needed', () => {
    // Build etcd with the fake go (real bash, flock and coreutils), then check without them.
    const builder = box({ realPath: true });
    const built = builder.run('bash', [BUILD_SCRIPT, 'etcd']);
    assert.equal(built.status, 0, built.stderr);
    const b = box({ without: ['go', 'gcc', 'flock'] });
    const r = b.run(process.execPath, [PREREQS, 'test-bins', 'etcd'], { NODE_ATTESTOR_CACHE: builder.cache });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const etcd = readdirSync(join(builder.cache, 'bin')).find((f) => f.startsWith('etcd-'));
    assert.ok(etcd !== undefined && existsSync(join(builder.cache, 'bin', etcd, 'etcd')));
  });

  it('rejects an unknown purpose or component with a usage line (exit 2)', () => {
    const b = box({});
    const r1 = b.run(process.execPath, [PREREQS, 'demos']);
    assert.equal(r1.status, 2);
    assert.match(r1.stderr, /^usage: prereqs\.mjs test-bins\|cluster\|demo\|e2e\|bench/);
    const r2 = b.run(process.execPath, [PREREQS, 'test-bins', 'etc']);
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /^prereqs: unknown component 'etc'/);
  });
});

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { needs } from '../../support/tools.js';
import { BUILD_SCRIPT, sandbox, type Sandbox } from './helpers.js';

// tools/build-test-bins.sh with a fake go (test/support/fake-go.mjs) in front of the real PATH:
// what a newcomer sees during a build, and after a failed one.
describe(
  'build progress (tools/build-test-bins.sh, scripts/go-build-progress.mjs)',
  {
    skip: needs('bash', 'awk', 'flock', 'mktemp', 'date'),
  },
  () => {
    const boxes: Sandbox[] = [];
    const box = (): Sandbox => {
      const b = sandbox({ realPath: true });
      boxes.push(b);
      return b;
    };
    after(() => {
      for (const b of boxes) b.remove();
    });

    it('shows each phase with counts and elapsed time as plain lines in CI, then a summary', () => {
      const b = box();
      const r = b.run('bash', [BUILD_SCRIPT, 'etcd']);
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /\r/, 'no in-place updates outside a terminal');
      const lines = r.stderr.split('\n');
      const order = [
        /^etcd: download 0\/\d+ modules fetched \(at most\), 0m\d\ds$/,
        /^etcd: list packages, 0m\d\ds$/,
        /^etcd: compile 0\/5 packages \(for etcd\), 0m\d\ds$/,
        /^etcd: link etcd, 0m\d\ds$/,
        /^etcd: 2 modules fetched, 5 packages compiled, binary linked in 0m\d\ds$/,
      ];
      let at = 0;
      for (const re of order) {
        const i = lines.findIndex((l, n) => n >= at && re.test(l));
        assert.ok(i >= 0, `no line ${String(re)} after line ${String(at)} in:\n${r.stderr}`);
        at = i + 1;
      }
      assert.match(r.stdout, /^etcd=.+\/bin\/etcd-v[\d.]+\/etcd$/m);
    });

    it('counts a package shared by several binaries once', () => {
      const b = box();
      const r = b.run('bash', [BUILD_SCRIPT, 'kubernetes']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /^kubernetes: compile 5\/7 packages \(for kube-controller-manager\), /m);
      assert.match(r.stderr, /^kubernetes: link kubectl, /m);
      assert.match(r.stderr, /^kubernetes: 2 modules fetched, 7 packages compiled, 3 binaries linked in /m);
    });

    it("on a compile error: the phase, the command and the compiler's own lines; nothing left in the cache", () => {
      const b = box();
      const r = b.run('bash', [BUILD_SCRIPT, 'etcd'], { FAKE_GO_FAIL: '1' });
      assert.equal(r.status, 1, r.stderr);
      assert.match(
        r.stderr,
        /^etcd: failed building etcd after 0m\d\ds: .*go build -v -json .* go\.etcd\.io\/etcd\/server\/v3 \(exit 1\)$/m,
      );
      assert.match(
        r.stderr,
        /^last 2 lines of its output:\n {2}# go\.etcd\.io\/etcd\/server\/v3\n {2}\.\/main\.go:7:2: undefined: notDefinedAnywhere$/m,
      );
      assert.deepEqual(
        readdirSync(join(b.cache, 'bin')).filter((f) => !f.endsWith('.lock')),
        [],
      );
    });
  },
);

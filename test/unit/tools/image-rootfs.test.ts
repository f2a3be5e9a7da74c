/**
 * tools/image-rootfs.sh: the root filesystem of a shell-less image holds the executable, exactly
 * the libraries ldd lists for it, the loader, passwd/group, the CA bundle and /tmp — and a program
 * assembled there runs under chroot with nothing else around it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_ROOT } from '../../harness/bins.js';
import { needs, onPath } from '../../support/tools.js';

const SCRIPT = join(REPO_ROOT, 'tools', 'image-rootfs.sh');
const rootfsScript = (...args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8' });

/** What ldd says `exe` loads: every "=> /path" and the loader's own line. */
function lddPaths(exe: string): string[] {
  const out = spawnSync('ldd', [exe], { encoding: 'utf8' }).stdout;
  const paths: string[] = [];
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] === '=>' && f[2]?.startsWith('/') === true) paths.push(f[2]);
    else if (f[0]?.startsWith('/') === true) paths.push(f[0]);
  }
  return paths.sort();
}

const CA = '/etc/ssl/certs/ca-certificates.crt';

describe(
  'tools/image-rootfs.sh',
  { skip: needs('bash', 'ldd') || (existsSync(CA) ? false : `${CA} missing`) },
  () => {
    const dirs: string[] = [];
    after(() => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });
    const node = process.execPath;

    it('plans the executable, exactly the libraries ldd lists, passwd/group, the CA bundle and /tmp', () => {
      const r = rootfsScript('plan', `exe:/usr/bin/prog=${node}`, 'link:/usr/bin/alias=prog');
      assert.equal(r.status, 0, r.stderr);
      const dests = r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('\t')[1]!);
      const expected = [
        '/usr/bin/prog',
        '/usr/bin/alias',
        '/etc/passwd',
        '/etc/group',
        CA,
        '/tmp',
        ...lddPaths(node),
      ];
      assert.deepEqual([...dests].sort(), [...new Set(expected)].sort());
      assert.match(r.stdout, /^dir\t\/tmp\t1777$/m);
      assert.match(r.stdout, /^link\t\/usr\/bin\/alias\tprog$/m);
    });

    it('assembles it: no shell, root-owned, /tmp sticky, and the program runs there under chroot', () => {
      const base = mkdtempSync(join(tmpdir(), 'na-rootfs-'));
      dirs.push(base);
      const out = join(base, 'rootfs');
      const r = rootfsScript('assemble', out, `exe:/usr/bin/prog=${node}`);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(existsSync(join(out, 'bin', 'sh')), false);
      assert.equal(statSync(join(out, 'tmp')).mode & 0o7777, 0o1777);
      assert.equal(lstatSync(join(out, 'usr', 'bin', 'prog')).isFile(), true);
      assert.deepEqual(readdirSync(join(out, 'usr', 'bin')), ['prog']);
      assert.match(readFileSync(join(out, 'etc', 'passwd'), 'utf8'), /^nonroot:x:65532:65532:/m);
      const chroot = onPath('chroot');
      if (process.getuid?.() === 0 && chroot !== undefined) {
        const ran = spawnSync(
          chroot,
          ['--userspec=65532:65532', out, '/usr/bin/prog', '-p', 'process.getuid()'],
          {
            encoding: 'utf8',
            // An empty environment, but for one key: Node copies a set NODE_V8_COVERAGE (c8, under
            // npm test) into every child's environment unless the child's names it, and inside the
            // chroot the coverage directory cannot be made (it depends on where the checkout is).
            env: { NODE_V8_COVERAGE: '' },
          },
        );
        assert.equal(ran.stderr, '');
        assert.equal(ran.stdout.trim(), '65532');
      }
    });

    it('refuses a missing source, a bad spec and an existing directory, each in one line, writing nothing', () => {
      const base = mkdtempSync(join(tmpdir(), 'na-rootfs-'));
      dirs.push(base);
      const missing = rootfsScript('assemble', join(base, 'a'), 'exe:/usr/bin/prog=/nonexistent/prog');
      assert.equal(missing.status, 1);
      assert.equal(missing.stderr, 'image-rootfs: /nonexistent/prog (for /usr/bin/prog) does not exist\n');
      assert.equal(existsSync(join(base, 'a')), false);
      const bad = rootfsScript('plan', 'prog');
      assert.equal(bad.status, 1);
      assert.equal(
        bad.stderr,
        "image-rootfs: bad spec 'prog' (want exe:|file:|link:/path/in/image=source)\n",
      );
      const exists = rootfsScript('assemble', base, `exe:/usr/bin/prog=${node}`);
      assert.equal(exists.status, 1);
      assert.equal(exists.stderr, `image-rootfs: ${base} already exists\n`);
    });
  },
);

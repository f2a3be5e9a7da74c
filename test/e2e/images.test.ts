/**
 * The container images (tools/build-images.sh, docs/images.md), built here with buildah (or
 * reused from the cache when their inputs have not changed), then taken apart as a container
 * runtime would: each OCI archive unpacked into a directory, and its programs run there under
 * chroot as the image's user with an empty environment. No daemon, no registry; running them
 * under containerd is the "real node" suite's part.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../harness/bins.js';
import { onPath } from '../support/tools.js';
import { unpackOciArchive, type ImageEntry, type UnpackedImage } from '../support/oci-image.js';

const run = promisify(execFile);
const IMAGES = ['node-attestor', 'spire-server', 'spire-agent'] as const;
type ImageName = (typeof IMAGES)[number];

/** The programs each image may hold; anything else executable (a shell, coreutils) fails. */
const PROGRAMS: Record<ImageName, readonly string[]> = {
  'node-attestor': ['/usr/local/bin/node-attestor'],
  'spire-server': ['/opt/spire/bin/spire-server', '/opt/spire/plugins/node-attestor'],
  'spire-agent': ['/opt/spire/bin/spire-agent', '/opt/spire/plugins/node-attestor'],
};
const SHELLS = new Set([
  'sh',
  'bash',
  'dash',
  'ash',
  'ksh',
  'mksh',
  'zsh',
  'csh',
  'tcsh',
  'fish',
  'busybox',
  'toybox',
]);

/** Why an image's filesystem is not shell-free and program-free beyond `programs`, or []. */
function unexpectedPrograms(entries: readonly ImageEntry[], programs: readonly string[]): string[] {
  const wrong: string[] = [];
  for (const e of entries) {
    if (SHELLS.has(basename(e.path))) wrong.push(`${e.path}: a shell's name`);
    // Shared objects (and the loader, ld-linux-x86-64.so.2) are executable by convention.
    const sharedObject = /\.so(\.|$)/.test(basename(e.path));
    if (e.kind === 'file' && (e.mode & 0o111) !== 0 && !sharedObject && !programs.includes(e.path))
      wrong.push(`${e.path}: an executable that is not one of ${programs.join(', ')}`);
    if (e.kind === 'link' && e.target !== 'node-attestor') wrong.push(`${e.path} -> ${String(e.target)}`);
    if (e.kind === 'other') wrong.push(`${e.path}: not a file, directory or link`);
  }
  return wrong;
}

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

describe('container images (tools/build-images.sh)', () => {
  const chroot = onPath('chroot');
  const work = mkdtempSync(join(tmpdir(), 'na-images-'));
  const images = new Map<ImageName, UnpackedImage>();
  const image = (name: ImageName): UnpackedImage => {
    const i = images.get(name);
    if (i === undefined) throw new Error(`image ${name} was not built`);
    return i;
  };

  /** Runs `argv` chrooted into `rootfs` as `user`, with only `env` (a container's starting point). */
  const spawnIn = (
    rootfs: string,
    user: string,
    argv: readonly string[],
    env: NodeJS.ProcessEnv,
  ): Promise<Ran> =>
    new Promise((resolve, reject) => {
      const child = spawn(chroot!, [`--userspec=${user}`, rootfs, ...argv], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.once('error', reject);
      child.once('close', (code) => {
        resolve({ code, stdout, stderr });
      });
    });
  /** Runs `argv` inside the image as its user. */
  const inImage = (name: ImageName, argv: readonly string[]): Promise<Ran> =>
    spawnIn(image(name).rootfs, image(name).config.User ?? '0:0', argv, {});

  /** The first stdout line of a plugin started chrooted into `rootfs` as SPIRE starts it. */
  const handshakeIn = (rootfs: string, user: string, argv: readonly string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn(chroot!, [`--userspec=${user}`, rootfs, ...argv], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { NodeAttestor: 'NodeAttestor', PLUGIN_PROTOCOL_VERSIONS: '1' },
      });
      let out = '';
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) {
          child.kill('SIGKILL');
          resolve(out.slice(0, nl));
        }
      });
      child.once('error', reject);
      child.once('exit', (code) => {
        if (!out.includes('\n'))
          reject(new Error(`${argv.join(' ')} exited ${String(code)} before a line: ${err}`));
      });
    });
  const handshakeLine = (name: ImageName, plugin: string): Promise<string> =>
    handshakeIn(image(name).rootfs, image(name).config.User ?? '0:0', [plugin]);

  before(
    async () => {
      // Not skips: these are the images' only test, and CI installs buildah (.ci/run).
      assert.ok(onPath('buildah') !== undefined, 'buildah is not installed: apt-get install buildah');
      assert.ok(chroot !== undefined, 'chroot (coreutils) is not on PATH');
      assert.equal(process.getuid?.(), 0, 'building and chroot-ing into the images needs root');
      const { stdout } = await run('bash', [join(REPO_ROOT, 'tools', 'build-images.sh'), ...IMAGES], {
        cwd: REPO_ROOT,
        maxBuffer: 1 << 20,
      });
      const archives = new Map<string, string>();
      for (const line of stdout.split('\n')) {
        const eq = line.indexOf('=');
        if (eq > 0) archives.set(line.slice(0, eq), line.slice(eq + 1));
      }
      for (const name of IMAGES) {
        const archive = archives.get(name);
        assert.ok(
          archive !== undefined && archive !== '',
          `build-images.sh printed no archive for ${name}:\n${stdout}`,
        );
        images.set(name, await unpackOciArchive(archive, join(work, name)));
      }
    },
    { timeout: 15 * 60_000 },
  );

  after(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it('no image holds a shell or any program but its own', () => {
    for (const name of IMAGES) {
      const { entries } = image(name);
      assert.deepEqual(
        unexpectedPrograms(entries, PROGRAMS[name]),
        [],
        `${name} holds more than its programs`,
      );
      assert.ok(!entries.some((e) => e.path === '/bin/sh' || e.path === '/bin'), `${name} has /bin`);
      for (const p of PROGRAMS[name])
        assert.ok(
          entries.some((e) => e.path === p && e.kind === 'file'),
          `${name} lacks ${p}`,
        );
    }
  });

  it('the shell check itself flags a shell, coreutils and a link to them', () => {
    const base: ImageEntry[] = [
      { path: '/usr/local/bin/node-attestor', kind: 'file', mode: 0o755, size: 1 },
      { path: '/lib64/ld-linux-x86-64.so.2', kind: 'file', mode: 0o755, size: 1 },
    ];
    assert.deepEqual(unexpectedPrograms(base, PROGRAMS['node-attestor']), []);
    const bad: ImageEntry[] = [
      ...base,
      { path: '/bin/busybox', kind: 'file', mode: 0o755, size: 1 },
      { path: '/usr/bin/env', kind: 'file', mode: 0o755, size: 1 },
      { path: '/bin/sh', kind: 'link', mode: 0o777, size: 1, target: 'busybox' },
    ];
    const flagged = unexpectedPrograms(bad, PROGRAMS['node-attestor']);
    for (const p of ['/bin/busybox', '/usr/bin/env', '/bin/sh'])
      assert.ok(
        flagged.some((w) => w.startsWith(`${p}:`) || w.startsWith(`${p} ->`)),
        `${p} not flagged: ${flagged.join('; ')}`,
      );
    assert.ok(
      !flagged.some((w) => w.includes('node-attestor:') || w.includes('ld-linux')),
      flagged.join('; '),
    );
  });

  it('node-attestor --help runs inside the node-attestor image, as its non-root user, from its entry point', async () => {
    const img = image('node-attestor');
    assert.deepEqual(img.config.Entrypoint, ['/usr/local/bin/node-attestor']);
    assert.equal(img.config.User, '65532:65532');
    const r = await inImage('node-attestor', [...(img.config.Entrypoint ?? []), '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: node-attestor \[flags\]/);
    assert.equal(r.stderr, '');
    const approver = await inImage('node-attestor', ['/usr/local/bin/node-attestor', 'approver', '--help']);
    assert.match(approver.stdout, /^Usage: node-attestor approver /);
  });

  for (const [name, role] of [
    ['spire-server', 'server'],
    ['spire-agent', 'agent'],
  ] as const) {
    it(`${name} --version runs inside the ${name} image, whose entry point is SPIRE's "${name} run"`, async () => {
      const img = image(name);
      assert.deepEqual(img.config.Entrypoint, [`/opt/spire/bin/${name}`, 'run']);
      const r = await inImage(name, [`/opt/spire/bin/${name}`, '--version']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout + r.stderr, /^1\.13\.3/);
    });

    for (const plugin of ['k8s-csr', 'k8s-pod-cert'] as const) {
      it(`the ${plugin} ${role} plugin link in the ${name} image refuses to run outside SPIRE, saying so`, async () => {
        const r = await inImage(name, [`/opt/spire/plugins/${plugin}-${role}-plugin`]);
        assert.equal(r.code, 1);
        assert.match(
          r.stderr,
          /this program is a SPIRE NodeAttestor plugin that spire-server or spire-agent starts/,
        );
        assert.match(r.stderr, /NodeAttestor=NodeAttestor is not set/);
      });

      it(`the ${plugin} ${role} plugin link in the ${name} image answers SPIRE's handshake`, async () => {
        const line = await handshakeLine(name, `/opt/spire/plugins/${plugin}-${role}-plugin`);
        // The socket is in the image's own /tmp: the only writable place it has.
        assert.match(line, /^1\|1\|unix\|\/tmp\/\S+\|grpc\|?$/);
      });
    }

    it(`the ${name} image's plugin_checksum file is the sha256 of the plugin executable in it`, () => {
      const { rootfs } = image(name);
      const sum = createHash('sha256')
        .update(readFileSync(join(rootfs, 'opt/spire/plugins/node-attestor')))
        .digest('hex');
      assert.equal(
        readFileSync(join(rootfs, 'opt/spire/plugins/node-attestor.sha256'), 'utf8'),
        `${sum}  node-attestor\n`,
      );
      // The same file as the one `npm run build` made: the image adds nothing to it.
      assert.equal(
        readFileSync(join(REPO_ROOT, 'dist', 'node-attestor.sha256'), 'utf8'),
        `${sum}  node-attestor\n`,
      );
    });
  }

  it('beside a SPIRE image without glibc, the copied executable runs only through its copied loader', async () => {
    // What an init container (or an image volume) puts in a shared volume next to SPIRE's
    // official FROM-scratch images: the executable, the loader and the libraries, nothing else.
    const from = image('node-attestor').rootfs;
    const scratch = join(work, 'scratch-spire');
    const libDir = join(from, 'lib', 'x86_64-linux-gnu');
    mkdirSync(join(scratch, 'plugins', 'lib'), { recursive: true });
    mkdirSync(join(scratch, 'tmp'), { mode: 0o1777 });
    chmodSync(join(scratch, 'tmp'), 0o1777);
    copyFileSync(join(from, 'usr/local/bin/node-attestor'), join(scratch, 'plugins/node-attestor'));
    chmodSync(join(scratch, 'plugins/node-attestor'), 0o755);
    copyFileSync(join(from, 'lib64/ld-linux-x86-64.so.2'), join(scratch, 'plugins/ld-linux-x86-64.so.2'));
    chmodSync(join(scratch, 'plugins/ld-linux-x86-64.so.2'), 0o755);
    for (const lib of readdirSync(libDir)) copyFileSync(join(libDir, lib), join(scratch, 'plugins/lib', lib));
    const inScratch = (argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> =>
      spawnIn(scratch, '65532:65532', argv, env);
    // Alone, its interpreter (/lib64/ld-linux-x86-64.so.2) is missing: exec fails with ENOENT.
    const alone = await inScratch(['/plugins/node-attestor', '--help']);
    assert.notEqual(alone.code, 0);
    assert.match(alone.stderr, /No such file or directory/);
    // Through the loader: plugin_cmd = the loader, plugin_args = these.
    const viaLoader = [
      '/plugins/ld-linux-x86-64.so.2',
      '--library-path',
      '/plugins/lib',
      '/plugins/node-attestor',
      'k8s-csr-server-plugin',
    ];
    const refused = await inScratch(viaLoader);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /NodeAttestor=NodeAttestor is not set/);
    assert.match(await handshakeIn(scratch, '65532:65532', viaLoader), /^1\|1\|unix\|\/tmp\/\S+\|grpc\|?$/);
  });

  it('each archive names its image (what ctr images import tags it as)', () => {
    assert.equal(image('node-attestor').refName, 'localhost/node-attestor:0.1.0');
    assert.match(image('spire-server').refName ?? '', /^localhost\/spire-server:1\.13\.3-k8s-csr-0\.1\.0$/);
    assert.match(image('spire-agent').refName ?? '', /^localhost\/spire-agent:1\.13\.3-k8s-csr-0\.1\.0$/);
  });
});

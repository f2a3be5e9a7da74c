import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  lstat,
  mkdir,
  readFile,
  readdir,
  readlink,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AttestorError, isAttestorError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log/logger.js';
import { readIdentity } from '../../../src/identity/read.js';
import { writeIdentity } from '../../../src/identity/store.js';
import type { WriteStep } from '../../../src/identity/store.js';
import { createCa } from '../../support/pki.js';
import type { TestCert } from '../../support/pki.js';
import { leftovers, makePair, readPairThroughPaths, tempDir } from './helpers.js';
import type { TestPair } from './helpers.js';

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o7777;
const PRE_PUBLISH: readonly WriteStep[] = [
  'locked',
  'write:generation-created',
  'write:key-written',
  'write:cert-written',
  'write:generation-synced',
  'write:link-staged',
];
const POST_PUBLISH: readonly WriteStep[] = ['published', 'dir-synced', 'cleaned'];
const injected = (): AttestorError => new AttestorError('ERR_IO', 'injected fault');

async function stepsOf(idDir: string, doc: TestPair): Promise<WriteStep[]> {
  const steps: WriteStep[] = [];
  await writeIdentity(idDir, doc, { onStep: (s) => void steps.push(s) });
  return steps;
}

let caPromise: Promise<TestCert> | undefined;
const ca = (): Promise<TestCert> => (caPromise ??= createCa());

describe('writeIdentity', () => {
  it('writes the link layout with modes 0600/0644 in a 0700 directory, bytes exactly as given', async (t) => {
    const idDir = join(await tempDir(t), 'nested', 'id');
    const pair = await makePair(await ca());
    const chainPem = `${pair.chainPem}${(await ca()).pem}`; // leaf + another cert, stored verbatim
    const paths = await writeIdentity(idDir, { keyPem: pair.keyPem, chainPem });
    assert.deepEqual(paths, {
      dir: idDir,
      keyPath: join(idDir, 'id-doc.key'),
      certPath: join(idDir, 'id-doc.crt'),
    });
    assert.equal(await mode(idDir), 0o700);
    assert.equal(await mode(paths.keyPath), 0o600);
    assert.equal(await mode(paths.certPath), 0o644);
    assert.equal(await readFile(paths.keyPath, 'utf8'), pair.keyPem);
    assert.equal(await readFile(paths.certPath, 'utf8'), chainPem);
    assert.equal(await readlink(paths.keyPath), '.id-doc-current/id-doc.key');
    assert.equal(await readlink(paths.certPath), '.id-doc-current/id-doc.crt');
    const generation = await readlink(join(idDir, '.id-doc-current'));
    assert.match(generation, /^\.id-doc-gen-[0-9a-f]{16}$/);
    assert.equal(await mode(join(idDir, generation)), 0o755);
    assert.deepEqual(await leftovers(idDir), []);
  });

  it('replaces the pair and removes the previous generation', async (t) => {
    const idDir = await tempDir(t);
    const [a, b] = [await makePair(await ca()), await makePair(await ca())];
    await writeIdentity(idDir, a);
    const first = await readlink(join(idDir, '.id-doc-current'));
    await writeIdentity(idDir, b);
    assert.equal((await readPairThroughPaths(idDir)).serial, b.serial);
    assert.ok(!(await readdir(idDir)).includes(first));
    assert.deepEqual(await leftovers(idDir), []);
  });

  it('sets the exact modes whatever the umask', async (t) => {
    for (const mask of [0o077, 0o000, 0o277]) {
      const idDir = join(await tempDir(t), 'id');
      const old = process.umask(mask);
      try {
        await writeIdentity(idDir, await makePair(await ca()));
      } finally {
        process.umask(old);
      }
      assert.equal(await mode(idDir), 0o700, `umask ${mask.toString(8)}`);
      assert.equal(await mode(join(idDir, 'id-doc.key')), 0o600, `umask ${mask.toString(8)}`);
      assert.equal(await mode(join(idDir, 'id-doc.crt')), 0o644, `umask ${mask.toString(8)}`);
    }
  });

  it('goes through the documented steps', async (t) => {
    const idDir = await tempDir(t);
    assert.deepEqual(await stepsOf(idDir, await makePair(await ca())), [
      'locked',
      'links-ready',
      ...PRE_PUBLISH.slice(1),
      ...POST_PUBLISH,
    ]);
    // Once the links exist they are left alone.
    assert.deepEqual(await stepsOf(idDir, await makePair(await ca())), [...PRE_PUBLISH, ...POST_PUBLISH]);
  });

  it('at every step, a reader of the two paths sees the old pair or the new one, whole and matching', async (t) => {
    const idDir = await tempDir(t);
    const [old, next] = [await makePair(await ca()), await makePair(await ca())];
    await writeIdentity(idDir, old);
    let published = false;
    const seen: string[] = [];
    await writeIdentity(idDir, next, {
      onStep: async (step) => {
        if (step === 'published') published = true;
        const { serial } = await readPairThroughPaths(idDir);
        assert.equal(serial, published ? next.serial : old.serial, step);
        const read = await readIdentity(idDir);
        assert.equal(read?.status, 'ok', step);
        assert.equal(read.serialNumber, serial, step);
        seen.push(step);
      },
    });
    assert.deepEqual(seen, [...PRE_PUBLISH, ...POST_PUBLISH]);
  });

  for (const failAt of PRE_PUBLISH) {
    it(`a failure at ${failAt} leaves the previous pair and no temporary files`, async (t) => {
      const idDir = await tempDir(t);
      const old = await makePair(await ca());
      await writeIdentity(idDir, old);
      const before = (await readdir(idDir)).sort();
      await assert.rejects(
        writeIdentity(idDir, await makePair(await ca()), {
          onStep: (s) => {
            if (s === failAt) throw injected();
          },
        }),
        (err: unknown) => isAttestorError(err, 'ERR_IO'),
      );
      assert.equal((await readPairThroughPaths(idDir)).serial, old.serial);
      assert.deepEqual(
        (await readdir(idDir)).sort(),
        before,
        'nothing added, nothing left behind (lock included)',
      );
    });
  }

  for (const failAt of POST_PUBLISH) {
    it(`trouble at ${failAt} (after publishing) is logged, and the new pair is in place`, async (t) => {
      const idDir = await tempDir(t);
      await writeIdentity(idDir, await makePair(await ca()));
      const next = await makePair(await ca());
      const lines: string[] = [];
      const logger = createLogger({ format: 'text', level: 'warn', write: (l) => void lines.push(l) });
      await writeIdentity(idDir, next, {
        logger,
        onStep: (s) => {
          if (s === failAt) throw injected();
        },
      });
      assert.equal((await readPairThroughPaths(idDir)).serial, next.serial);
      if (failAt === 'cleaned') {
        assert.match(lines.join(''), /old generations could not be removed/);
        assert.deepEqual(await leftovers(idDir), []);
      } else {
        assert.equal(lines.length, 1);
        assert.match(lines[0] ?? '', /keeping the previous generation/);
        assert.equal((await readdir(idDir)).filter((n) => n.startsWith('.id-doc-gen-')).length, 2);
        // The next write tidies up.
        await writeIdentity(idDir, await makePair(await ca()));
        assert.deepEqual(await leftovers(idDir), []);
      }
    });
  }

  it('a real crash (SIGKILL) at any step leaves a whole pair, and the next write recovers', async (t) => {
    const script = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));
    for (const crashAt of ['write:key-written', 'write:link-staged', 'published'] as const) {
      const idDir = await tempDir(t);
      const [old, next] = [await makePair(await ca()), await makePair(await ca())];
      await writeIdentity(idDir, old);
      const child = spawn(process.execPath, ['--import', 'tsx', script, idDir, crashAt], {
        stdio: ['pipe', 'inherit', 'inherit'],
      });
      child.stdin.end(JSON.stringify({ keyPem: next.keyPem, chainPem: next.chainPem }));
      const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
        child.on('exit', (c, s) => {
          resolve([c, s]);
        }),
      );
      assert.deepEqual([code, signal], [null, 'SIGKILL'], crashAt);
      const expected = crashAt === 'published' ? next.serial : old.serial;
      assert.equal((await readPairThroughPaths(idDir)).serial, expected, crashAt);
      assert.ok((await readdir(idDir)).includes('.id-doc.lock'), 'the dead writer left its lock');
      // Its lock names a dead process, so it is broken at once; the leftovers are collected.
      const third = await makePair(await ca());
      await writeIdentity(idDir, third);
      assert.equal((await readPairThroughPaths(idDir)).serial, third.serial);
      assert.deepEqual(await leftovers(idDir), [], crashAt);
    }
  });

  // A reader that opens the two paths at two different instants can straddle a rename; one that
  // resolves the generation once (readIdentity, or realpath of either path) cannot.
  it('never shows a mismatched pair to a resolving reader while many writers race; the last rename wins', async (t) => {
    const idDir = await tempDir(t);
    const pairs = await Promise.all(Array.from({ length: 6 }, async () => makePair(await ca())));
    await writeIdentity(idDir, pairs[0]!);
    const state = { done: false };
    let reads = 0;
    const reader = (async () => {
      while (!state.done) {
        const r = await readIdentity(idDir);
        assert.equal(r?.status, 'ok');
        reads++;
      }
    })();
    await Promise.all(pairs.map((p) => writeIdentity(idDir, p)));
    state.done = true;
    await reader;
    assert.ok(reads > 0);
    const final = await readPairThroughPaths(idDir);
    assert.ok(pairs.some((p) => p.serial === final.serial));
    assert.deepEqual(await leftovers(idDir), []);
    assert.ok(!(await readdir(idDir)).includes('.id-doc.lock'));
  });
});

describe('writeIdentity over an older plain layout', () => {
  async function plainPair(idDir: string, pair: TestPair): Promise<void> {
    await mkdir(idDir, { mode: 0o700, recursive: true });
    await writeFile(join(idDir, 'id-doc.key'), pair.keyPem, { mode: 0o600 });
    await writeFile(join(idDir, 'id-doc.crt'), pair.chainPem, { mode: 0o644 });
  }

  it('adopts the plain pair, then replaces it; every step shows a whole pair', async (t) => {
    const idDir = await tempDir(t);
    const [old, next] = [await makePair(await ca()), await makePair(await ca())];
    await plainPair(idDir, old);
    const steps: WriteStep[] = [];
    let published = false;
    await writeIdentity(idDir, next, {
      onStep: async (step) => {
        steps.push(step);
        if (step === 'published') published = true;
        assert.equal((await readPairThroughPaths(idDir)).serial, published ? next.serial : old.serial, step);
      },
    });
    assert.deepEqual(steps, [
      'locked',
      'adopt:generation-created',
      'adopt:key-written',
      'adopt:cert-written',
      'adopt:generation-synced',
      'adopt:link-staged',
      'adopted',
      'links-ready',
      ...PRE_PUBLISH.slice(1),
      ...POST_PUBLISH,
    ]);
    assert.ok((await lstat(join(idDir, 'id-doc.key'))).isSymbolicLink());
    assert.deepEqual(await leftovers(idDir), []);
  });

  for (const failAt of ['adopt:key-written', 'adopt:link-staged', 'adopted', 'links-ready'] as const) {
    it(`a failure at ${failAt} keeps the old pair readable and leaves no temporary files`, async (t) => {
      const idDir = await tempDir(t);
      const old = await makePair(await ca());
      await plainPair(idDir, old);
      await assert.rejects(
        writeIdentity(idDir, await makePair(await ca()), {
          onStep: (s) => {
            if (s === failAt) throw injected();
          },
        }),
        (err: unknown) => isAttestorError(err, 'ERR_IO'),
      );
      assert.equal((await readPairThroughPaths(idDir)).serial, old.serial);
      assert.deepEqual(await leftovers(idDir), []);
      assert.ok(!(await readdir(idDir)).some((n) => n.startsWith('.id-doc-tmp-') || n === '.id-doc.lock'));
    });
  }

  it('adopts a pair of foreign symlinks too', async (t) => {
    const dir = await tempDir(t);
    const idDir = join(dir, 'id');
    const old = await makePair(await ca());
    await plainPair(join(dir, 'elsewhere'), old);
    await mkdir(idDir, { mode: 0o700 });
    await symlink(join(dir, 'elsewhere', 'id-doc.key'), join(idDir, 'id-doc.key'));
    await symlink(join(dir, 'elsewhere', 'id-doc.crt'), join(idDir, 'id-doc.crt'));
    const steps = await stepsOf(idDir, await makePair(await ca()));
    assert.ok(steps.includes('adopted'));
    // Never written through: the files the links pointed at are untouched.
    assert.equal(await readFile(join(dir, 'elsewhere', 'id-doc.key'), 'utf8'), old.keyPem);
  });

  it('replaces a lone stray file, and refuses to touch a directory in the way', async (t) => {
    const idDir = await tempDir(t);
    await writeFile(join(idDir, 'id-doc.crt'), 'stray');
    const next = await makePair(await ca());
    await writeIdentity(idDir, next);
    assert.equal((await readPairThroughPaths(idDir)).serial, next.serial);

    const other = await tempDir(t);
    await mkdir(join(other, 'id-doc.key'));
    await assert.rejects(writeIdentity(other, next), (err: unknown) => {
      return isAttestorError(err, 'ERR_IO') && err.message.includes(join(other, 'id-doc.key'));
    });
  });
});

describe('the writer lock', () => {
  it('breaks a lock whose process is gone, with a warning', async (t) => {
    const idDir = await tempDir(t);
    const { hostname } = await import('node:os');
    await writeFile(join(idDir, '.id-doc.lock'), JSON.stringify({ pid: 2 ** 22 + 17, host: hostname() }));
    const lines: string[] = [];
    const logger = createLogger({ format: 'text', level: 'warn', write: (l) => void lines.push(l) });
    await writeIdentity(idDir, await makePair(await ca()), { logger });
    assert.match(lines.join(''), /breaking a stale identity directory lock.*is gone/);
  });

  it('breaks a lock older than 30 s even if its process lives (or is on another host)', async (t) => {
    const idDir = await tempDir(t);
    const lock = join(idDir, '.id-doc.lock');
    await writeFile(lock, JSON.stringify({ pid: process.pid, host: 'elsewhere' }));
    const old = new Date(Date.now() - 60_000);
    await utimes(lock, old, old);
    await writeIdentity(idDir, await makePair(await ca()));
    assert.ok(!(await readdir(idDir)).includes('.id-doc.lock'));
  });

  it('waits for a live holder', async (t) => {
    const idDir = await tempDir(t);
    const lock = join(idDir, '.id-doc.lock');
    await writeFile(lock, JSON.stringify({ pid: process.pid, host: 'elsewhere' }));
    const { unlink } = await import('node:fs/promises');
    let released = false;
    setTimeout(() => {
      released = true;
      void unlink(lock);
    }, 150);
    await writeIdentity(idDir, await makePair(await ca()));
    assert.equal(released, true);
  });

  it('stops waiting when the signal aborts', async (t) => {
    const idDir = await tempDir(t);
    await writeFile(join(idDir, '.id-doc.lock'), JSON.stringify({ pid: process.pid, host: 'elsewhere' }));
    await assert.rejects(
      writeIdentity(idDir, await makePair(await ca()), { signal: AbortSignal.timeout(50) }),
      (err: unknown) => isAttestorError(err, 'ERR_TIMEOUT'),
    );
  });
});

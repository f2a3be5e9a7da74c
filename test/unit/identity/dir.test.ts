import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmod,
  chown,
  lchown,
  lstat,
  mkdir,
  readdir,
  readFile,
  rename,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkIdentityDirUsable,
  openExistingIdentityDir,
  openIdentityDir,
} from '../../../src/identity/dir.js';
import type { IdentityDir } from '../../../src/identity/dir-handle.js';
import { writeNewFile } from '../../../src/identity/fs-ops.js';
import { isAttestorError } from '../../../src/errors.js';
import { NOBODY, isRoot, needsRoot, runAs, sharedTmp, tempDir } from './helpers.js';

const OTHER = 4321;

/** Opens `path` like the CLI does, closing it when the test ends. */
async function open(t: TestContext, path: string): Promise<IdentityDir> {
  const dir = await openIdentityDir(path, '-id-dir');
  t.after(() => dir.close());
  return dir;
}

/** Asserts an ERR_UNSAFE_DIR refusal whose one-line message matches `pattern`. */
async function refused(path: string, pattern: RegExp | string): Promise<void> {
  await assert.rejects(openIdentityDir(path, '-id-dir'), (err: unknown) => {
    assert.ok(isAttestorError(err, 'ERR_UNSAFE_DIR'), String(err));
    if (typeof pattern === 'string') assert.equal(err.message, pattern);
    else assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'));
    return true;
  });
}

describe('openIdentityDir', () => {
  it('creates the directory 0700 (missing parents 0755) and holds it open', async (t) => {
    const base = await tempDir(t);
    const idDir = join(base, 'a', 'b', 'id');
    const dir = await open(t, idDir);
    assert.equal(dir.path, idDir);
    assert.equal((await stat(idDir)).mode & 0o7777, 0o700);
    assert.equal((await stat(join(base, 'a'))).mode & 0o022, 0, 'parents not writable by others');
    await open(t, idDir); // an existing, good one is fine
  });

  it('makes the created directory exactly 0700 whatever the umask', async (t) => {
    const idDir = join(await tempDir(t), 'id');
    const old = process.umask(0);
    try {
      await open(t, idDir);
    } finally {
      process.umask(old);
    }
    assert.equal((await stat(idDir)).mode & 0o7777, 0o700);
  });

  it('accepts an existing directory that only its owner can write, readable or not', async (t) => {
    const idDir = await tempDir(t);
    await chmod(idDir, 0o755);
    await open(t, idDir);
    assert.equal((await stat(idDir)).mode & 0o7777, 0o755, 'left as the owner set it');
  });

  it('refuses a directory that is a symlink, even to a good directory of ours', async (t) => {
    const base = await tempDir(t);
    await mkdir(join(base, 'real'), { mode: 0o700 });
    await symlink(join(base, 'real'), join(base, 'link'));
    await refused(
      join(base, 'link'),
      `identity directory ${join(base, 'link')} is a symbolic link; refusing it, since whoever can change the link decides where the key goes: remove it, or give the real directory's path in -id-dir`,
    );
    assert.deepEqual(await readdir(join(base, 'real')), []);
  });

  it('refuses a dangling symlink instead of creating its target', async (t) => {
    const base = await tempDir(t);
    await symlink(join(base, 'target'), join(base, 'link'));
    await refused(join(base, 'link'), /is a symbolic link/);
    await assert.rejects(lstat(join(base, 'target')), { code: 'ENOENT' });
  });

  for (const mode of [0o770, 0o702, 0o777, 0o1777]) {
    it(`refuses a group/world-writable directory (mode ${mode.toString(8)})`, async (t) => {
      const idDir = await tempDir(t);
      await chmod(idDir, mode);
      await refused(
        idDir,
        `identity directory ${idDir} is writable by group or others (mode 0${mode.toString(8)}), so another user could replace the identity document: run chmod go-w ${idDir}`,
      );
    });
  }

  it('refuses a directory owned by another user', { skip: !isRoot && 'needs root to chown' }, async (t) => {
    const idDir = join(await tempDir(t), 'id');
    await mkdir(idDir, { mode: 0o700 });
    await chown(idDir, OTHER, OTHER);
    await refused(
      idDir,
      `identity directory ${idDir} is owned by uid ${OTHER}, not by you (uid 0): remove it or choose another -id-dir`,
    );
  });

  it('names the setting to change that the caller gives', async (t) => {
    const base = await tempDir(t);
    await symlink(base, join(base, 'link'));
    await assert.rejects(
      openIdentityDir(join(base, 'link'), 'identity_dir'),
      (err: unknown) =>
        isAttestorError(err, 'ERR_UNSAFE_DIR') && err.message.endsWith('path in identity_dir'),
    );
  });

  for (const [mode, who] of [
    [0o777, 'others'],
    [0o770, 'its group'],
  ] as const) {
    it(`refuses a directory whose parent ${who} may write without the sticky bit`, async (t) => {
      const parent = await tempDir(t);
      await chmod(parent, mode);
      const idDir = join(parent, 'id');
      await refused(
        idDir,
        `identity directory ${idDir} is not safe: ${parent} is writable by ${who} (mode 0${mode.toString(8)}) without the sticky bit, so another user could replace ${idDir}: run chmod go-w ${parent}, or choose another -id-dir`,
      );
      assert.deepEqual(await readdir(parent), [], 'nothing created');
    });
  }

  it('refuses a directory further down below a directory others may write', async (t) => {
    const parent = await tempDir(t);
    await mkdir(join(parent, 'a', 'b'), { recursive: true, mode: 0o755 });
    await chmod(parent, 0o777);
    await refused(join(parent, 'a', 'b', 'id'), new RegExp(`: ${parent} is writable by others`));
  });

  it('accepts our own directory in a sticky world-writable parent (like /tmp), and creates it there', async (t) => {
    const shared = await sharedTmp(t);
    await open(t, join(shared, 'id'));
    assert.equal((await stat(join(shared, 'id'))).mode & 0o7777, 0o700);
  });

  it(
    'refuses a directory another user owns in a sticky parent',
    { skip: !isRoot && 'needs root to chown' },
    async (t) => {
      const shared = await sharedTmp(t);
      await mkdir(join(shared, 'id'), { mode: 0o700 });
      await chown(join(shared, 'id'), OTHER, OTHER);
      await refused(join(shared, 'id'), /is owned by uid 4321, not by you/);
    },
  );

  it(
    'as a non-root user: refuses a directory root owns, accepts its own in a sticky parent',
    { skip: needsRoot },
    async (t) => {
      const shared = await sharedTmp(t);
      const roots = join(shared, 'roots');
      await mkdir(roots, { mode: 0o755 });
      const mine = join(shared, 'mine');
      const dirModule = fileURLToPath(new URL('../../../src/identity/dir.ts', import.meta.url));
      const script = `const { openIdentityDir } = await import(${JSON.stringify(dirModule)});
        const out = [];
        for (const p of process.argv.slice(1))
          try { await (await openIdentityDir(p, '-id-dir')).close(); out.push('ok'); }
          catch (e) { out.push(e.code + ': ' + e.message); }
        console.log(JSON.stringify(out));`;
      const out = await runAs(NOBODY, [
        process.execPath,
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        script,
        roots,
        mine,
      ]);
      assert.deepEqual(JSON.parse(out), [
        `ERR_UNSAFE_DIR: identity directory ${roots} is owned by uid 0, not by you (uid ${NOBODY}): remove it or choose another -id-dir`,
        'ok',
      ]);
      assert.equal((await stat(mine)).uid, NOBODY);
    },
  );

  it(
    'refuses a path through a directory another user owns',
    { skip: !isRoot && 'needs root to chown' },
    async (t) => {
      const base = await tempDir(t);
      const theirs = join(base, 'theirs');
      await mkdir(theirs, { mode: 0o755 });
      await chown(theirs, OTHER, OTHER);
      const idDir = join(theirs, 'id');
      await refused(
        idDir,
        `identity directory ${idDir} is not safe: ${theirs} is owned by uid ${OTHER}, who could replace anything below it: use directories that belong to root or to you (uid 0), or choose another -id-dir`,
      );
      assert.deepEqual(await readdir(theirs), []);
    },
  );

  it('follows a symlink above the directory when it sits where only we may write (absolute and relative)', async (t) => {
    const base = await tempDir(t);
    await mkdir(join(base, 'real'), { mode: 0o755 });
    await mkdir(join(base, 'sub'), { mode: 0o755 });
    await symlink(join(base, 'real'), join(base, 'abs'));
    await symlink('../real', join(base, 'sub', 'rel'));
    await open(t, join(base, 'abs', 'id1'));
    await open(t, join(base, 'sub', 'rel', 'id2'));
    assert.deepEqual((await readdir(join(base, 'real'))).sort(), ['id1', 'id2']);
  });

  it(
    'refuses a symlink above the directory that another user owns in a sticky directory',
    { skip: !isRoot && 'needs root to chown' },
    async (t) => {
      const shared = await sharedTmp(t);
      const mine = await tempDir(t);
      await symlink(mine, join(shared, 'link'));
      await open(t, join(shared, 'link', 'ours-is-fine'));
      await lchown(join(shared, 'link'), OTHER, OTHER);
      await refused(
        join(shared, 'link', 'id'),
        `identity directory ${join(shared, 'link', 'id')} is not safe: ${join(shared, 'link')} is a symbolic link owned by uid ${OTHER} in the shared directory ${shared}, so that user decides where it leads: remove it or choose another -id-dir`,
      );
    },
  );

  it('reports a symlink loop on the way', async (t) => {
    const base = await tempDir(t);
    await symlink('b', join(base, 'a'));
    await symlink('a', join(base, 'b'));
    await assert.rejects(
      openIdentityDir(join(base, 'a', 'id')),
      (err: unknown) =>
        isAttestorError(err, 'ERR_IO') &&
        err.message ===
          `cannot open identity directory ${join(base, 'a', 'id')}: too many levels of symbolic links`,
    );
  });

  it('says which path cannot be created and why', async (t) => {
    const base = await tempDir(t);
    await writeFile(join(base, 'file'), '');
    const idDir = join(base, 'file', 'id');
    await assert.rejects(openIdentityDir(idDir), (err: unknown) => {
      assert.ok(isAttestorError(err, 'ERR_IO'));
      assert.equal(
        err.message,
        `cannot create identity directory ${idDir}: a path component is not a directory`,
      );
      return true;
    });
    await assert.rejects(
      openIdentityDir(join(base, 'file')),
      (err: unknown) => isAttestorError(err, 'ERR_IO') && err.message.includes('is not a directory'),
    );
  });

  it('reports permission denied in words', { skip: isRoot && 'root ignores permissions' }, async (t) => {
    const base = await tempDir(t);
    await chmod(base, 0o500);
    t.after(() => chmod(base, 0o700).catch(() => undefined));
    await assert.rejects(
      openIdentityDir(join(base, 'id')),
      (err: unknown) =>
        isAttestorError(err, 'ERR_IO') &&
        err.message === `cannot create identity directory ${join(base, 'id')}: permission denied`,
    );
  });

  it('keeps working in the directory it checked after its path is swapped for a symlink', async (t) => {
    const base = await tempDir(t);
    const idDir = join(base, 'id');
    const decoy = join(base, 'decoy');
    await mkdir(decoy, { mode: 0o700 });
    const dir = await open(t, idDir);
    await rename(idDir, join(base, 'moved'));
    await symlink(decoy, idDir);
    await writeNewFile(dir, 'x', 'data', 0o600);
    assert.deepEqual(await readdir(decoy), []);
    assert.equal(await readFile(join(base, 'moved', 'x'), 'utf8'), 'data');
  });
});

describe('openExistingIdentityDir', () => {
  it('is undefined for a missing directory and creates nothing', async (t) => {
    const base = await tempDir(t);
    assert.equal(await openExistingIdentityDir(join(base, 'a', 'id')), undefined);
    assert.equal(await openExistingIdentityDir(join(base, 'id')), undefined);
    assert.deepEqual(await readdir(base), []);
  });

  it('checks an existing one like openIdentityDir', async (t) => {
    const base = await tempDir(t);
    await symlink(base, join(base, 'link'));
    await assert.rejects(openExistingIdentityDir(join(base, 'link')), (err: unknown) =>
      isAttestorError(err, 'ERR_UNSAFE_DIR'),
    );
  });
});

describe('checkIdentityDirUsable', () => {
  it('passes on a writable directory and leaves nothing behind', async (t) => {
    const idDir = await tempDir(t);
    await checkIdentityDirUsable(await open(t, idDir));
    assert.deepEqual(await readdir(idDir), []);
  });

  it('fails when a directory sits where a document file goes', async (t) => {
    for (const name of ['id-doc.key', 'id-doc.crt', '.id-doc-current']) {
      const idDir = await tempDir(t);
      await mkdir(join(idDir, name));
      await assert.rejects(
        checkIdentityDirUsable(await open(t, idDir)),
        (err: unknown) => isAttestorError(err, 'ERR_IO') && err.message.includes(join(idDir, name)),
      );
    }
  });

  it('fails on a directory it cannot write', { skip: isRoot && 'root ignores permissions' }, async (t) => {
    const idDir = await tempDir(t);
    await chmod(idDir, 0o500);
    t.after(() => chmod(idDir, 0o700).catch(() => undefined));
    await assert.rejects(
      async () => checkIdentityDirUsable(await open(t, idDir)),
      (err: unknown) =>
        isAttestorError(err, 'ERR_IO') &&
        err.message === `cannot write to identity directory ${idDir}: permission denied`,
    );
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkIdentityDirUsable, ensureIdentityDir } from '../../../src/identity/dir.js';
import { isAttestorError } from '../../../src/errors.js';
import { tempDir } from './helpers.js';

const isRoot = process.geteuid?.() === 0;

describe('ensureIdentityDir', () => {
  it('creates the directory 0700 (parents as usual)', async (t) => {
    const base = await tempDir(t);
    const idDir = join(base, 'a', 'b', 'id');
    await ensureIdentityDir(idDir);
    assert.equal((await stat(idDir)).mode & 0o7777, 0o700);
    await ensureIdentityDir(idDir); // idempotent
  });

  it('accepts an existing directory that only its owner can write, readable or not', async (t) => {
    const idDir = await tempDir(t);
    await chmod(idDir, 0o755);
    await ensureIdentityDir(idDir);
    assert.equal((await stat(idDir)).mode & 0o7777, 0o755, 'left as the owner set it');
  });

  it('accepts a symlink to a good directory', async (t) => {
    const base = await tempDir(t);
    await mkdir(join(base, 'real'), { mode: 0o700 });
    await symlink(join(base, 'real'), join(base, 'link'));
    await ensureIdentityDir(join(base, 'link'));
  });

  for (const mode of [0o770, 0o702, 0o777, 0o1777]) {
    it(`refuses a group/world-writable directory (mode ${mode.toString(8)})`, async (t) => {
      const idDir = await tempDir(t);
      await chmod(idDir, mode);
      await assert.rejects(
        ensureIdentityDir(idDir),
        (err: unknown) =>
          isAttestorError(err, 'ERR_IO') &&
          err.message.includes(idDir) &&
          err.message.includes('writable by group or others'),
      );
    });
  }

  it('refuses a directory owned by another user', { skip: !isRoot && 'needs root to chown' }, async (t) => {
    const idDir = await tempDir(t);
    await chown(idDir, 4321, 4321);
    await assert.rejects(
      ensureIdentityDir(idDir),
      (err: unknown) => isAttestorError(err, 'ERR_IO') && err.message.includes('uid 4321'),
    );
  });

  it('says which path cannot be created and why', async (t) => {
    const base = await tempDir(t);
    await writeFile(join(base, 'file'), '');
    const idDir = join(base, 'file', 'id');
    await assert.rejects(ensureIdentityDir(idDir), (err: unknown) => {
      assert.ok(isAttestorError(err, 'ERR_IO'));
      assert.equal(
        err.message,
        `cannot create identity directory ${idDir}: a path component is not a directory`,
      );
      return true;
    });
    await assert.rejects(
      ensureIdentityDir(join(base, 'file')),
      (err: unknown) => isAttestorError(err, 'ERR_IO') && err.message.includes('is not a directory'),
    );
  });

  it('reports permission denied in words', { skip: isRoot && 'root ignores permissions' }, async (t) => {
    const base = await tempDir(t);
    await chmod(base, 0o500);
    t.after(() => chmod(base, 0o700).catch(() => undefined));
    await assert.rejects(
      ensureIdentityDir(join(base, 'id')),
      (err: unknown) =>
        isAttestorError(err, 'ERR_IO') &&
        err.message === `cannot create identity directory ${join(base, 'id')}: permission denied`,
    );
  });
});

describe('checkIdentityDirUsable', () => {
  it('passes on a writable directory and leaves nothing behind', async (t) => {
    const idDir = await tempDir(t);
    await checkIdentityDirUsable(idDir);
    const { readdir } = await import('node:fs/promises');
    assert.deepEqual(await readdir(idDir), []);
  });

  it('fails when a directory sits where a document file goes', async (t) => {
    for (const name of ['id-doc.key', 'id-doc.crt', '.id-doc-current']) {
      const idDir = await tempDir(t);
      await mkdir(join(idDir, name));
      await assert.rejects(
        checkIdentityDirUsable(idDir),
        (err: unknown) => isAttestorError(err, 'ERR_IO') && err.message.includes(join(idDir, name)),
      );
    }
  });

  it('fails on a directory it cannot write', { skip: isRoot && 'root ignores permissions' }, async (t) => {
    const idDir = await tempDir(t);
    await chmod(idDir, 0o500);
    t.after(() => chmod(idDir, 0o700).catch(() => undefined));
    await assert.rejects(
      checkIdentityDirUsable(idDir),
      (err: unknown) =>
        isAttestorError(err, 'ERR_IO') &&
        err.message === `cannot write to identity directory ${idDir}: permission denied`,
    );
  });
});

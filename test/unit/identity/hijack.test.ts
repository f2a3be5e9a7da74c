/**
 * Hijacking the identity directory (issue 10, finding 6), performed for real: another user
 * (nobody, through setpriv) squats the name in a shared sticky directory as /tmp allows, a
 * symlink is planted in its place, and the path is swapped after the check. Each time the
 * obtain flow must refuse before any CSR exists, or keep working in the directory it checked.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, readdir, readFile, rename, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isAttestorError } from '../../../src/errors.js';
import { obtainIdentity } from '../../../src/identity/obtain.js';
import type { ObtainOptions } from '../../../src/identity/obtain.js';
import { writeIdentity } from '../../../src/identity/store.js';
import { createCa } from '../../support/pki.js';
import type { TestCert } from '../../support/pki.js';
import {
  FakeCsrClient,
  NOBODY,
  makePair,
  needsRoot,
  readPairThroughPaths,
  runAs,
  sharedTmp,
  tempDir,
} from './helpers.js';
import type { FakeBehaviour } from './helpers.js';

let caPromise: Promise<TestCert> | undefined;
const ca = (): Promise<TestCert> => (caPromise ??= createCa());
const NODE = 'node-1';

async function attempt(
  idDir: string,
  behaviour: FakeBehaviour = {},
  o: Partial<ObtainOptions> = {},
): Promise<{ client: FakeCsrClient; run: Promise<Awaited<ReturnType<typeof obtainIdentity>>> }> {
  const client = new FakeCsrClient(await ca(), behaviour);
  const run = obtainIdentity({
    idDir,
    idDirSetting: '-id-dir',
    nodeName: NODE,
    keyType: 'ecdsa-p256',
    approvalTimeoutMs: 30_000,
    force: false,
    csrClient: client,
    ...o,
  });
  return { client, run };
}

/** The obtain flow refuses `idDir` with ERR_UNSAFE_DIR (message matching `why`) and creates no CSR. */
async function refusedBeforeAnyCsr(idDir: string, why: RegExp): Promise<void> {
  const { client, run } = await attempt(idDir);
  await assert.rejects(run, (err: unknown) => {
    assert.ok(isAttestorError(err, 'ERR_UNSAFE_DIR'), String(err));
    assert.match(err.message, why);
    return true;
  });
  assert.equal(client.created.length, 0, 'no CSR created');
}

/** A directory of ours somewhere else, as an attacker would like us to write into. */
async function decoyOfOurs(t: TestContext): Promise<string> {
  const decoy = join(await tempDir(t), 'decoy');
  await mkdir(decoy, { mode: 0o700 });
  return decoy;
}

describe('hijacking the identity directory', () => {
  for (const mode of ['755', '777']) {
    it(
      `(a) refuses a directory another user pre-created in the shared /tmp (mode ${mode}), writing nothing`,
      { skip: needsRoot },
      async (t) => {
        const shared = await sharedTmp(t);
        const idDir = join(shared, 'spire-agent-id');
        await runAs(NOBODY, ['mkdir', '-m', mode, idDir]);
        assert.equal((await stat(idDir)).uid, NOBODY);
        await refusedBeforeAnyCsr(
          idDir,
          new RegExp(
            `^identity directory ${idDir} is owned by uid ${NOBODY}, not by you \\(uid 0\\): remove it or choose another -id-dir$`,
          ),
        );
        assert.deepEqual(await readdir(idDir), [], 'nothing written into the squatted directory');
      },
    );
  }

  it(
    '(b) refuses the name planted as a symlink to a directory of ours, writing nothing there',
    { skip: needsRoot },
    async (t) => {
      const shared = await sharedTmp(t);
      const idDir = join(shared, 'spire-agent-id');
      const decoy = await decoyOfOurs(t);
      await runAs(NOBODY, ['ln', '-s', decoy, idDir]);
      await refusedBeforeAnyCsr(idDir, /is a symbolic link; refusing it/);
      assert.deepEqual(await readdir(decoy), [], 'nothing written through the link');
    },
  );

  it('(b) refuses a symlink even when we made it ourselves', async (t) => {
    const base = await tempDir(t);
    const decoy = await decoyOfOurs(t);
    await symlink(decoy, join(base, 'id'));
    await refusedBeforeAnyCsr(join(base, 'id'), /is a symbolic link/);
    assert.deepEqual(await readdir(decoy), []);
  });

  it('(c) a swap while the CSR waits for approval: the pair lands in the checked directory, never through the new link', async (t) => {
    const base = await tempDir(t);
    const idDir = join(base, 'id');
    const moved = join(base, 'moved');
    const decoy = await decoyOfOurs(t);
    let swapped = false;
    const { run } = await attempt(idDir, {
      duringWait: async () => {
        // The window of the attack: seconds to minutes in real life, between check and write.
        await rename(idDir, moved);
        await symlink(decoy, idDir);
        swapped = true;
      },
    });
    const r = await run;
    assert.ok(swapped);
    assert.ok((await lstat(idDir)).isSymbolicLink(), 'the swap is in place');
    assert.deepEqual(await readdir(decoy), [], 'nothing written into the link target');
    const disk = await readPairThroughPaths(moved);
    assert.equal(disk.serial, r.serialNumber, 'the new pair is in the directory that was checked');
  });

  it('(c) a swap after the check: a pair planted behind the new link is not reused', async (t) => {
    const base = await tempDir(t);
    const idDir = join(base, 'id');
    const planted = await decoyOfOurs(t);
    const plantedPair = await makePair(await ca(), NODE);
    await writeIdentity(planted, plantedPair);
    let swapped = false;
    const { client, run } = await attempt(
      idDir,
      {},
      {
        onDirChecked: async () => {
          await rename(idDir, join(base, 'moved'));
          await symlink(planted, idDir);
          swapped = true;
        },
      },
    );
    const r = await run;
    assert.ok(swapped, 'the swap ran between the check and the read');
    assert.equal(r.reused, false, 'the planted pair was not picked up');
    assert.notEqual(r.serialNumber, plantedPair.serial);
    assert.equal(client.created.length, 1);
    assert.equal((await readPairThroughPaths(planted)).serial, plantedPair.serial, 'planted pair untouched');
    assert.equal((await readPairThroughPaths(join(base, 'moved'))).serial, r.serialNumber);
  });

  it('(c) a swap during the wait, the other way round: a directory replaced by another one is not written', async (t) => {
    const base = await tempDir(t);
    const idDir = join(base, 'id');
    const { run } = await attempt(idDir, {
      duringWait: async () => {
        await rename(idDir, join(base, 'moved'));
        await mkdir(idDir, { mode: 0o700 }); // a fresh directory of ours under the same name
      },
    });
    await run;
    assert.deepEqual(await readdir(idDir), [], 'the replacement stays empty');
    await readPairThroughPaths(join(base, 'moved'));
  });

  it('(d) refuses a directory whose parent others may write without the sticky bit', async (t) => {
    const parent = await tempDir(t);
    await chmod(parent, 0o777);
    const idDir = join(parent, 'spire-agent-id');
    await refusedBeforeAnyCsr(
      idDir,
      new RegExp(
        `^identity directory ${idDir} is not safe: ${parent} is writable by others \\(mode 0777\\) without the sticky bit`,
      ),
    );
    assert.deepEqual(await readdir(parent), [], 'not even the directory was created');
  });

  it('(d) refuses an existing directory of ours below such a parent too', async (t) => {
    const parent = await tempDir(t);
    const idDir = join(parent, 'spire-agent-id');
    await mkdir(idDir, { mode: 0o700 });
    await chmod(parent, 0o777);
    await refusedBeforeAnyCsr(idDir, /without the sticky bit/);
    assert.deepEqual(await readdir(idDir), []);
  });

  it('(e) accepts our own directory in a sticky shared parent like /tmp, created or existing', async (t) => {
    const shared = await sharedTmp(t);
    const idDir = join(shared, 'spire-agent-id');
    const first = await (await attempt(idDir)).run;
    assert.equal(first.reused, false);
    assert.equal((await stat(idDir)).mode & 0o7777, 0o700);
    const again = await (await attempt(idDir)).run;
    assert.equal(again.reused, true);
    assert.equal(await readFile(join(idDir, 'id-doc.crt'), 'utf8'), first.chainPem);
  });

  it(
    '(e) another user may share the sticky parent without being able to get in the way',
    { skip: needsRoot },
    async (t) => {
      const shared = await sharedTmp(t);
      const idDir = join(shared, 'spire-agent-id');
      await (
        await attempt(idDir)
      ).run;
      // nobody cannot remove or rename our directory in a sticky parent, so it cannot swap it.
      await assert.rejects(runAs(NOBODY, ['mv', idDir, join(shared, 'gone')]), /Operation not permitted/);
      await assert.rejects(runAs(NOBODY, ['rm', '-rf', idDir]), /Permission denied|Operation not permitted/);
      assert.equal((await (await attempt(idDir)).run).reused, true);
    },
  );
});

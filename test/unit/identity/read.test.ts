import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readIdentity } from '../../../src/identity/read.js';
import type { ReadIdentityResult } from '../../../src/identity/read.js';
import { writeIdentity } from '../../../src/identity/store.js';
import { createCa, createCert, generateTestKey } from '../../support/pki.js';
import { makePair, tempDir } from './helpers.js';

function brokenReason(r: ReadIdentityResult): string {
  assert.equal(r?.status, 'broken');
  return r.reason;
}

describe('readIdentity', () => {
  it('is undefined when nothing is there (no directory, empty directory, dangling links)', async (t) => {
    const dir = await tempDir(t);
    assert.equal(await readIdentity(join(dir, 'missing')), undefined);
    assert.equal(await readIdentity(dir), undefined);
    await writeIdentity(dir, await makePair(await createCa()));
    await rm(join(dir, await readlink(join(dir, '.id-doc-current'))), { recursive: true });
    assert.equal(await readIdentity(dir), undefined);
  });

  it('returns the pair with its facts', async (t) => {
    const dir = await tempDir(t);
    const notBefore = new Date('2026-03-01T00:00:00Z');
    const notAfter = new Date('2026-03-02T00:00:00Z');
    const pair = await makePair(await createCa(), 'node-7', { notBefore, notAfter });
    await writeIdentity(dir, pair);
    const r = await readIdentity(dir);
    assert.equal(r?.status, 'ok');
    assert.equal(r.keyPem, pair.keyPem);
    assert.equal(r.chainPem, pair.chainPem);
    assert.equal(r.nodeName, 'node-7');
    assert.equal(r.keyType, 'ecdsa-p256');
    assert.deepEqual([r.notBefore, r.notAfter], [notBefore, notAfter]);
    assert.equal(r.serialNumber, pair.serial);
    assert.equal(r.leaf.serialNumber, pair.serial);
    assert.equal(r.chain.length, 1);
    assert.deepEqual([r.keyPath, r.certPath], [join(dir, 'id-doc.key'), join(dir, 'id-doc.crt')]);
  });

  it('reads an older plain two-file layout', async (t) => {
    const dir = await tempDir(t);
    const pair = await makePair(await createCa());
    await writeFile(join(dir, 'id-doc.key'), pair.keyPem);
    await writeFile(join(dir, 'id-doc.crt'), pair.chainPem);
    const r = await readIdentity(dir);
    assert.equal(r?.status, 'ok');
    assert.equal(r.serialNumber, pair.serial);
  });

  it('has a nodeName only for an exact node client subject', async (t) => {
    const dir = await tempDir(t);
    const c = await createCert({ subject: 'CN=system:node:n1, O=system:nodes' });
    await writeIdentity(dir, { keyPem: c.key.privateKeyPem, chainPem: c.pem });
    const r = await readIdentity(dir);
    assert.equal(r?.status, 'ok');
    assert.equal(r.nodeName, undefined);
  });

  it('reports a present but broken pair, saying why', async (t) => {
    const ca = await createCa();
    const pair = await makePair(ca);
    const other = await generateTestKey('ecdsa-p256');
    const cases: [string, string | undefined, string | undefined, RegExp][] = [
      ['only a key', pair.keyPem, undefined, /id-doc\.crt is missing/],
      ['only a certificate', undefined, pair.chainPem, /id-doc\.key is missing/],
      ['another key', other.privateKeyPem, pair.chainPem, /does not match the certificate/],
      ['a garbage key', 'nonsense', pair.chainPem, /does not hold an unencrypted PEM private key/],
      ['no certificate', pair.keyPem, 'nonsense', /no PEM certificate/],
      ['a key where the certificate goes', pair.keyPem, pair.keyPem, /not a CERTIFICATE/],
      [
        'a corrupt certificate',
        pair.keyPem,
        '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
        /certificate 1 does not parse/,
      ],
      [
        'a key over the PEM limit',
        pair.keyPem + ' '.repeat(4 * 1024 * 1024),
        pair.chainPem,
        /id-doc\.key is \d+ bytes; the limit for PEM input is 4 MiB$/,
      ],
      [
        'a chain over the PEM limit',
        pair.keyPem,
        pair.chainPem + '-----BEGIN CERTIFICATE-----\n'.repeat(150_000),
        /id-doc\.crt: the chain is \d+ bytes; the limit for PEM input is 4 MiB$/,
      ],
    ];
    for (const [what, keyPem, chainPem, why] of cases) {
      const dir = join(await tempDir(t), 'id');
      await mkdir(dir);
      if (keyPem !== undefined) await writeFile(join(dir, 'id-doc.key'), keyPem);
      if (chainPem !== undefined) await writeFile(join(dir, 'id-doc.crt'), chainPem);
      assert.match(brokenReason(await readIdentity(dir)), why, what);
    }
  });

  it('follows foreign symlinks like a plain reader would', async (t) => {
    const dir = await tempDir(t);
    const pair = await makePair(await createCa());
    await writeFile(join(dir, 'k'), pair.keyPem);
    await writeFile(join(dir, 'c'), pair.chainPem);
    await mkdir(join(dir, 'id'));
    await symlink('../k', join(dir, 'id', 'id-doc.key'));
    await symlink('../c', join(dir, 'id', 'id-doc.crt'));
    assert.equal((await readIdentity(join(dir, 'id')))?.status, 'ok');
  });
});

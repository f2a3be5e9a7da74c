/**
 * The retry after a 401 for the non-exec credential sources: a token file that rotated while the
 * request was under way is read again and the request sent once more; a static token is not
 * retried (nothing fresher), and neither is an unchanged token file.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAttestorError } from '../../../src/errors.js';
import { resolveKubeAccess, type KubeAccessOptions } from '../../../src/kube/access.js';
import { createKubeClient } from '../../../src/kube/http.js';
import { startFakeApiServer, type ClientFiles, type FakeApiServer } from '../../support/fake-apiserver.js';
import { EMPTY_ENV, tempDir } from './helpers.js';

const PATH = '/apis/certificates.k8s.io/v1/certificatesigningrequests/none';

describe('credential sources after a 401', () => {
  const dir = tempDir('kube-credentials-');
  let api: FakeApiServer;
  let files: ClientFiles;
  before(async () => {
    api = await startFakeApiServer({ tokens: { 'tok-old': 'old-user', 'tok-new': 'new-user' } });
    files = await api.writeClientFiles(join(dir, 'creds'));
  });
  after(async () => {
    await api.close();
  });
  const get = async (o: KubeAccessOptions): Promise<void> => {
    const base = o.kubeconfig === undefined ? { server: api.url, caCert: files.caCert } : {};
    const c = createKubeClient(await resolveKubeAccess({ ...base, env: EMPTY_ENV, homeDir: dir, ...o }), {
      requestTimeoutMs: 5000,
    });
    try {
      await c.requestJson('GET', PATH).catch((err: unknown) => {
        if (!(isAttestorError(err, 'ERR_KUBE_API') && err.details.status === 404)) throw err;
      });
    } finally {
      c.close();
    }
  };

  it('a token file rotated while the request was answered 401 is read again and the request sent once more', async () => {
    const tokenFile = join(dir, 'rotating');
    writeFileSync(tokenFile, 'tok-old\n');
    // The server takes a moment and then refuses (as if the old token had just been revoked).
    api.addRule({ path: PATH, respond: { status: 401 }, delayMs: 1000 });
    const before = api.requests.length;
    const done = get({ tokenFile });
    await api.waitUntil(() => api.requests.length > before);
    writeFileSync(tokenFile, 'tok-new\n');
    await done;
    assert.deepEqual(
      api.requests.slice(before).map((r) => r.user),
      ['old-user', 'new-user'],
    );
  });

  it('an unchanged token file or a static kubeconfig token is not retried: the 401 is reported after one request', async () => {
    const tokenFile = join(dir, 'stale');
    writeFileSync(tokenFile, 'tok-old\n');
    const kubeconfig = join(dir, 'static');
    writeFileSync(kubeconfig, api.kubeconfig({ token: 'tok-old' }));
    for (const o of [{ tokenFile }, { kubeconfig }]) {
      api.addRule({ path: PATH, respond: { status: 401 } });
      const before = api.requests.length;
      await assert.rejects(get(o), (err: unknown) => isAttestorError(err, 'ERR_KUBE_UNAUTHORIZED'));
      assert.equal(api.requests.length - before, 1);
    }
  });
});

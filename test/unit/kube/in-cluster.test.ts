import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAttestorError } from '../../../src/errors.js';
import { resolveKubeAccess } from '../../../src/kube/access.js';
import { createKubeClient } from '../../../src/kube/http.js';
import { inClusterAvailable, loadInClusterConfig } from '../../../src/kube/in-cluster.js';
import { startFakeApiServer, type FakeApiServer } from '../../support/fake-apiserver.js';
import { tempDir } from './helpers.js';

describe('in-cluster configuration', () => {
  const dir = tempDir();
  const sa = dir;
  let api: FakeApiServer;
  before(async () => {
    api = await startFakeApiServer({
      tokens: { 'sa-token-1': 'system:serviceaccount:spire:agent', 'sa-token-2': 'rotated' },
    });
    writeFileSync(join(sa, 'token'), 'sa-token-1');
    writeFileSync(join(sa, 'ca.crt'), api.serverCa.pem);
  });
  after(async () => {
    await api.close();
  });

  it('builds the server URL from the service variables, bracketing IPv6', () => {
    assert.equal(
      loadInClusterConfig({
        env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' },
        serviceAccountDir: sa,
      }).server.href,
      'https://10.96.0.1/',
    );
    const v6 = loadInClusterConfig({
      env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' },
      serviceAccountDir: sa,
    });
    assert.equal(v6.server.href, 'https://[fd00::1]:6443/');
    assert.equal(v6.caFile, join(sa, 'ca.crt'));
    assert.equal(v6.tokenFile, join(sa, 'token'));
  });

  it('explains missing variables, a bad port and a missing token', () => {
    assert.equal(inClusterAvailable({ KUBERNETES_SERVICE_HOST: 'x' }), false);
    assert.throws(
      () => loadInClusterConfig({ env: {}, serviceAccountDir: sa }),
      (err: unknown) => isAttestorError(err, 'ERR_INPUT') && err.message.includes('only inside a pod'),
    );
    assert.throws(
      () =>
        loadInClusterConfig({
          env: { KUBERNETES_SERVICE_HOST: 'h', KUBERNETES_SERVICE_PORT: 'https' },
          serviceAccountDir: sa,
        }),
      (err: unknown) => isAttestorError(err, 'ERR_INPUT') && err.message.includes('not a port number'),
    );
    assert.throws(
      () =>
        loadInClusterConfig({
          env: { KUBERNETES_SERVICE_HOST: 'h', KUBERNETES_SERVICE_PORT: '443' },
          serviceAccountDir: join(dir, 'none'),
        }),
      (err: unknown) =>
        isAttestorError(err, 'ERR_INPUT') && /token file .*none\/token does not exist/.test(err.message),
    );
  });

  it('authenticates with the token, re-read on every request, and trusts ca.crt', async () => {
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) };
    const access = await resolveKubeAccess({ inCluster: true, env, serviceAccountDir: sa });
    const c = createKubeClient(access);
    try {
      const get = () => c.requestJson('GET', '/api/v1/nodes/n1').catch(() => undefined);
      await get();
      writeFileSync(join(sa, 'token'), 'sa-token-2\n');
      await get();
      assert.deepEqual(
        api.requests.slice(-2).map((r) => [r.auth, r.user]),
        [
          ['token', 'system:serviceaccount:spire:agent'],
          ['token', 'rotated'],
        ],
      );
    } finally {
      c.close();
      writeFileSync(join(sa, 'token'), 'sa-token-1');
    }
  });

  it('takes an explicit token file (a projected token with a custom path)', async () => {
    const projected = join(dir, 'projected-token');
    writeFileSync(projected, 'sa-token-2');
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) };
    const access = await resolveKubeAccess({
      inCluster: true,
      env,
      serviceAccountDir: sa,
      tokenFile: projected,
    });
    assert.equal(access.credentials?.file, projected);
    const c = createKubeClient(access);
    try {
      await c.requestJson('GET', '/api/v1/nodes/n1').catch(() => undefined);
      assert.equal(api.requests.at(-1)!.user, 'rotated');
    } finally {
      c.close();
    }
  });
});

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { AttestorError, isAttestorError } from '../../../src/errors.js';
import { resolveKubeAccess, type KubeAccess } from '../../../src/kube/access.js';
import { createKubeClient, type KubeClient } from '../../../src/kube/http.js';
import { startFakeApiServer, type FakeApiServer } from '../../support/fake-apiserver.js';
import { createCa } from '../../support/pki.js';
import { EMPTY_ENV, tempDir } from './helpers.js';

async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) =>
    s.close(() => {
      r();
    }),
  );
  return port;
}

describe('KubeClient transport and error mapping', () => {
  const dir = tempDir();
  let api: FakeApiServer;
  let certAccess: KubeAccess;
  let client: KubeClient;
  const files: Record<string, string> = {};

  before(async () => {
    api = await startFakeApiServer();
    Object.assign(files, await api.writeClientFiles(dir));
    certAccess = await resolveKubeAccess({
      server: api.url,
      caCert: files.caCert!,
      clientCert: files.clientCert!,
      clientKey: files.clientKey!,
      env: EMPTY_ENV,
      homeDir: dir,
    });
    client = createKubeClient(certAccess, { requestTimeoutMs: 2000 });
  });
  after(async () => {
    client.close();
    await api.close();
  });

  it('maps connection refused to ERR_KUBE_UNREACHABLE with the URL', async () => {
    const port = await closedPort();
    const access = await resolveKubeAccess({
      server: `https://127.0.0.1:${port}`,
      caCert: files.caCert!,
      env: EMPTY_ENV,
      homeDir: dir,
    });
    const c = createKubeClient(access);
    try {
      await assert.rejects(c.requestJson('GET', '/version'), (err: unknown) => {
        assert.ok(isAttestorError(err, 'ERR_KUBE_UNREACHABLE'));
        assert.equal(
          err.message,
          `cannot reach the Kubernetes API server at https://127.0.0.1:${port}: connection refused`,
        );
        return true;
      });
    } finally {
      c.close();
    }
  });

  it('maps a DNS failure to ERR_KUBE_UNREACHABLE', async () => {
    const access = await resolveKubeAccess({
      server: 'https://no-such-host.invalid:6443',
      caCert: files.caCert!,
      env: EMPTY_ENV,
      homeDir: dir,
    });
    const c = createKubeClient(access, { requestTimeoutMs: 5000 });
    try {
      await assert.rejects(
        c.requestJson('GET', '/version'),
        (err: unknown) =>
          isAttestorError(err, 'ERR_KUBE_UNREACHABLE') &&
          /DNS lookup of no-such-host\.invalid failed|timed out/.test(err.message),
      );
    } finally {
      c.close();
    }
  });

  it('maps a reset connection to ERR_KUBE_UNREACHABLE', async () => {
    api.addRule({ path: '/reset', respond: 'destroy' });
    await assert.rejects(
      client.requestJson('GET', '/reset'),
      (err: unknown) =>
        isAttestorError(err, 'ERR_KUBE_UNREACHABLE') && err.message.endsWith('connection reset'),
    );
  });

  it('times out a request that gets no answer', async () => {
    api.addRule({ path: '/hang', respond: 'hang' });
    const c = createKubeClient(certAccess, { requestTimeoutMs: 200 });
    try {
      const started = Date.now();
      await assert.rejects(
        c.requestJson('GET', '/hang'),
        (err: unknown) =>
          isAttestorError(err, 'ERR_KUBE_UNREACHABLE') && err.message.includes('no response within 0.2s'),
      );
      assert.ok(Date.now() - started < 1500);
    } finally {
      c.close();
    }
  });

  it('maps an untrusted server certificate to ERR_KUBE_TLS with a hint', async () => {
    const other = await createCa('CN=other');
    writeFileSync(join(dir, 'other.crt'), other.pem);
    const access = await resolveKubeAccess({
      server: api.url,
      caCert: join(dir, 'other.crt'),
      env: EMPTY_ENV,
      homeDir: dir,
    });
    const c = createKubeClient(access);
    try {
      await assert.rejects(c.requestJson('GET', '/version'), (err: unknown) => {
        assert.ok(isAttestorError(err, 'ERR_KUBE_TLS'));
        assert.match(
          err.message,
          /^TLS with the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+ failed: the server's certificate is not trusted by -ca-cert .*other\.crt \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); give the cluster CA/,
        );
        return true;
      });
    } finally {
      c.close();
    }
  });

  it('maps a plain-HTTP server to ERR_KUBE_TLS asking whether it is HTTPS', async () => {
    const plain = createHttpServer((_q, r) => r.end('{}'));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    const { port } = plain.address() as AddressInfo;
    try {
      const access = await resolveKubeAccess({
        server: `https://127.0.0.1:${port}`,
        caCert: files.caCert!,
        env: EMPTY_ENV,
        homeDir: dir,
      });
      const c = createKubeClient(access);
      try {
        await assert.rejects(
          c.requestJson('GET', '/version'),
          (err: unknown) =>
            isAttestorError(err, 'ERR_KUBE_TLS') && err.message.includes('an HTTPS endpoint?'),
        );
      } finally {
        c.close();
      }
    } finally {
      plain.closeAllConnections();
      plain.close();
    }
  });

  it('maps 401 to ERR_KUBE_UNAUTHORIZED naming the credentials, never the token', async () => {
    writeFileSync(join(dir, 'bad-token'), 'sekret-token-value\n');
    const access = await resolveKubeAccess({
      server: api.url,
      caCert: files.caCert!,
      tokenFile: join(dir, 'bad-token'),
      env: EMPTY_ENV,
      homeDir: dir,
    });
    const c = createKubeClient(access);
    try {
      await assert.rejects(
        c.requestJson('GET', '/apis/certificates.k8s.io/v1/certificatesigningrequests/x'),
        (err: unknown) => {
          assert.ok(isAttestorError(err, 'ERR_KUBE_UNAUTHORIZED'));
          assert.match(
            err.message,
            /did not accept the credentials \(bearer token from token file .*bad-token\): 401 Unauthorized/,
          );
          assert.doesNotMatch(inspect(err, { depth: 5 }), /sekret/);
          assert.doesNotMatch(inspect(access, { depth: 5 }), /sekret/);
          assert.doesNotMatch(JSON.stringify(access), /sekret/);
          return true;
        },
      );
    } finally {
      c.close();
    }
  });

  it('sends no credentials when none are configured (the API server sees system:anonymous)', async () => {
    const access = await resolveKubeAccess({
      server: api.url,
      caCert: files.caCert!,
      env: EMPTY_ENV,
      homeDir: dir,
    });
    const c = createKubeClient(access);
    try {
      await assert.rejects(
        c.requestJson('GET', '/apis/certificates.k8s.io/v1/certificatesigningrequests/x'),
        (err: unknown) =>
          isAttestorError(err, 'ERR_KUBE_FORBIDDEN') &&
          err.message.includes('User "system:anonymous" cannot get'),
      );
    } finally {
      c.close();
    }
  });

  it('maps 403 to ERR_KUBE_FORBIDDEN with the Status message', async () => {
    api.addRule({
      path: '/apis/certificates.k8s.io/v1/certificatesigningrequests',
      method: 'POST',
      respond: {
        status: 403,
        message:
          'certificatesigningrequests.certificates.k8s.io is forbidden: User "spire-agent" cannot create resource "certificatesigningrequests" in API group "certificates.k8s.io" at the cluster scope',
      },
    });
    await assert.rejects(
      client.requestJson('POST', '/apis/certificates.k8s.io/v1/certificatesigningrequests', {}),
      (err: unknown) => {
        assert.ok(isAttestorError(err, 'ERR_KUBE_FORBIDDEN'));
        assert.match(err.message, /refused POST \/apis\/.*: .*User "spire-agent" cannot create resource/);
        assert.equal(err.details.status, 403);
        return true;
      },
    );
  });

  it('maps other errors to ERR_KUBE_API with status, reason and message on one line', async () => {
    api.addRule({
      path: '/boom',
      respond: { status: 500, reason: 'InternalError', message: 'etcd\nleader changed' },
    });
    await assert.rejects(client.requestJson('GET', '/boom'), (err: unknown) => {
      assert.ok(isAttestorError(err, 'ERR_KUBE_API'));
      assert.equal(
        err.message,
        `GET /boom at ${api.url} failed: HTTP 500 InternalError: etcd leader changed`,
      );
      assert.equal(err.details.status, 500);
      assert.equal(err.details.reason, 'InternalError');
      return true;
    });
  });

  it('maps a non-JSON success body to ERR_KUBE_API', async () => {
    api.addRule({ path: '/html', respond: { status: 200, rawBody: '<html>' } });
    await assert.rejects(
      client.requestJson('GET', '/html'),
      (err: unknown) => isAttestorError(err, 'ERR_KUBE_API') && err.message.includes('not JSON'),
    );
  });

  it('stops on abort with ERR_CANCELLED, or with the AttestorError given as reason', async () => {
    api.addRule({ path: '/slow', times: 2, respond: 'hang' });
    const ac = new AbortController();
    const p = client.requestJson('GET', '/slow', undefined, ac.signal);
    setTimeout(() => {
      ac.abort();
    }, 50);
    await assert.rejects(p, (err: unknown) => isAttestorError(err, 'ERR_CANCELLED'));
    const reason = new AttestorError('ERR_INTERNAL', 'stop');
    const ac2 = new AbortController();
    const p2 = client.requestJson('GET', '/slow', undefined, ac2.signal);
    setTimeout(() => {
      ac2.abort(reason);
    }, 50);
    await assert.rejects(p2, (err: unknown) => err === reason);
  });

  it('re-reads the token file on every request (rotation)', async () => {
    api.addToken('token-one', 'user-one');
    api.addToken('token-two', 'user-two');
    const tokenFile = join(dir, 'rotating-token');
    writeFileSync(tokenFile, 'token-one');
    const access = await resolveKubeAccess({
      server: api.url,
      caCert: files.caCert!,
      tokenFile,
      env: EMPTY_ENV,
      homeDir: dir,
    });
    const c = createKubeClient(access);
    try {
      await assert.rejects(
        c.requestJson('GET', '/apis/certificates.k8s.io/v1/certificatesigningrequests/nope'),
      );
      writeFileSync(tokenFile, 'token-two\n');
      await assert.rejects(
        c.requestJson('GET', '/apis/certificates.k8s.io/v1/certificatesigningrequests/nope'),
      );
      const users = api.requests.filter((r) => r.path.endsWith('/nope')).map((r) => r.user);
      assert.deepEqual(users.slice(-2), ['user-one', 'user-two']);
    } finally {
      c.close();
    }
  });

  it('keeps a path prefix of the server URL', async () => {
    const access = { ...certAccess, server: new URL(`${api.url}/prefix/`) };
    const c = createKubeClient(access);
    try {
      await assert.rejects(c.requestJson('GET', '/version'));
      assert.equal(api.requests.at(-1)!.path, '/prefix/version');
    } finally {
      c.close();
    }
  });
});

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { isAttestorError } from '../../../src/errors.js';
import { resolveKubeAccess, type KubeAccess } from '../../../src/kube/access.js';
import { createKubeClient } from '../../../src/kube/http.js';
import { createCa, createCert, EKU, KU, type TestCert } from '../../support/pki.js';
import { EMPTY_ENV, tempDir } from './helpers.js';

interface TestServer {
  readonly url: string;
  /** Requests that reached the HTTP layer (i.e. request bytes were sent). */
  requests: number;
  /** Client certificate CNs seen. */
  readonly clients: string[];
  close(): Promise<void>;
}

async function startServer(cert: TestCert, clientCa?: TestCert): Promise<TestServer> {
  const state = { requests: 0, clients: [] as string[] };
  const server: Server = createServer(
    {
      key: cert.key.privateKeyPem,
      cert: cert.pem,
      ...(clientCa === undefined ? {} : { ca: clientCa.pem, requestCert: true, rejectUnauthorized: false }),
    },
    (req, res) => {
      state.requests++;
      const sock = req.socket;
      if (sock instanceof TLSSocket && sock.authorized)
        state.clients.push(String(sock.getPeerCertificate().subject.CN));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"ok":true}');
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    set requests(v: number) {
      state.requests = v;
    },
    clients: state.clients,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) =>
        server.close(() => {
          r();
        }),
      );
    },
  };
}

const serverCert = (issuer: TestCert, o: Partial<Parameters<typeof createCert>[0]> = {}): Promise<TestCert> =>
  createCert({
    subject: 'CN=kube-apiserver',
    issuer,
    ca: false,
    keyUsage: KU.digitalSignature | KU.keyEncipherment,
    extKeyUsage: [EKU.serverAuth],
    ipAddresses: ['127.0.0.1'],
    dnsNames: ['localhost'],
    ...o,
  });

describe('TLS to the API server', () => {
  const dir = tempDir();
  let ca: TestCert;
  let otherCa: TestCert;
  let leaf: TestCert;
  let server: TestServer;
  const file = (name: string, content: string): string => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const get = async (access: KubeAccess): Promise<unknown> => {
    const client = createKubeClient(access, { requestTimeoutMs: 5000 });
    try {
      return await client.requestJson('GET', '/version');
    } finally {
      client.close();
    }
  };
  const accessFor = (caPem: string | undefined, extra: Parameters<typeof resolveKubeAccess>[0] = {}) =>
    resolveKubeAccess({
      server: server.url,
      ...(caPem === undefined ? {} : { caCert: file(`ca-${Math.random()}.crt`, caPem) }),
      env: EMPTY_ENV,
      homeDir: dir,
      ...extra,
    });

  before(async () => {
    ca = await createCa('CN=cluster-ca');
    otherCa = await createCa('CN=other-ca');
    leaf = await serverCert(ca);
    server = await startServer(leaf);
  });
  after(async () => {
    await server.close();
  });

  it('trusts a CA bundle', async () => {
    assert.deepEqual(await get(await accessFor(ca.pem)), { ok: true });
  });

  it('trusts a bundle where the CA is not the first certificate', async () => {
    assert.deepEqual(await get(await accessFor(`${otherCa.pem}${ca.pem}`)), { ok: true });
  });

  it("accepts the API server's own certificate as -ca-cert (pinned, as the 2018 tutorial does)", async () => {
    assert.deepEqual(await get(await accessFor(leaf.pem)), { ok: true });
  });

  it('rejects a server whose certificate is from another CA, before sending any request byte', async () => {
    const before = server.requests;
    await assert.rejects(get(await accessFor(otherCa.pem)), (err: unknown) => {
      assert.ok(isAttestorError(err, 'ERR_KUBE_TLS'));
      assert.match(
        err.message,
        /the server's certificate is not trusted by -ca-cert .*ca-.*\.crt \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/,
      );
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
    assert.equal(server.requests, before);
  });

  it('rejects a pinned file holding a different leaf', async () => {
    const otherLeaf = await serverCert(ca);
    const before = server.requests;
    await assert.rejects(get(await accessFor(otherLeaf.pem)), (err: unknown) =>
      isAttestorError(err, 'ERR_KUBE_TLS'),
    );
    assert.equal(server.requests, before);
  });

  it('checks the host name against a pinned certificate', async () => {
    const access = await accessFor(leaf.pem);
    const wrongName: KubeAccess = { ...access, tls: { ...access.tls, serverName: 'wrong.example' } };
    await assert.rejects(get(wrongName), (err: unknown) => {
      assert.ok(isAttestorError(err, 'ERR_KUBE_TLS'));
      assert.match(err.message, /not valid for wrong\.example/);
      return true;
    });
  });

  it('checks the host name with a CA bundle too (and tls-server-name fixes it)', async () => {
    const ipless = await serverCert(ca, { ipAddresses: [], dnsNames: ['kubernetes.default.svc'] });
    const s2 = await startServer(ipless);
    try {
      const access = await resolveKubeAccess({
        server: s2.url,
        caCert: file('ca2.crt', ca.pem),
        env: EMPTY_ENV,
        homeDir: dir,
      });
      await assert.rejects(
        get(access),
        (err: unknown) => isAttestorError(err, 'ERR_KUBE_TLS') && err.message.includes('127.0.0.1'),
      );
      const named: KubeAccess = { ...access, tls: { ...access.tls, serverName: 'kubernetes.default.svc' } };
      assert.deepEqual(await get(named), { ok: true });
      assert.equal(s2.requests, 1);
    } finally {
      await s2.close();
    }
  });

  it('rejects an expired pinned certificate', async () => {
    const expired = await serverCert(ca, {
      notBefore: new Date(Date.now() - 48 * 3600_000),
      notAfter: new Date(Date.now() - 24 * 3600_000),
    });
    const s2 = await startServer(expired);
    try {
      const access = await resolveKubeAccess({
        server: s2.url,
        caCert: file('expired.crt', expired.pem),
        env: EMPTY_ENV,
        homeDir: dir,
      });
      await assert.rejects(
        get(access),
        (err: unknown) => isAttestorError(err, 'ERR_KUBE_TLS') && err.message.includes('expired'),
      );
      assert.equal(s2.requests, 0);
    } finally {
      await s2.close();
    }
  });

  it('does not trust the test CA through the system store', async () => {
    await assert.rejects(get(await accessFor(undefined)), (err: unknown) => {
      assert.ok(isAttestorError(err, 'ERR_KUBE_TLS'));
      assert.match(err.message, /not trusted by the system trust store/);
      return true;
    });
  });

  it('accepts anything with insecureSkipTlsVerify, with a warning', async () => {
    const access = await accessFor(undefined, { insecureSkipTlsVerify: true });
    assert.match(access.warnings.join('\n'), /TLS verification .* is disabled/);
    assert.deepEqual(await get(access), { ok: true });
  });

  it('presents the client certificate', async () => {
    const clientCa = await createCa('CN=client-ca');
    const s2 = await startServer(leaf, clientCa);
    try {
      const clientCert = await createCert({
        subject: 'CN=spire-agent, O=spire',
        issuer: clientCa,
        ca: false,
        keyUsage: KU.digitalSignature,
        extKeyUsage: [EKU.clientAuth],
      });
      const access = await resolveKubeAccess({
        server: s2.url,
        caCert: file('pin.crt', leaf.pem),
        clientCert: file('client.crt', clientCert.pem),
        clientKey: file('client.key', clientCert.key.privateKeyPem),
        env: EMPTY_ENV,
        homeDir: dir,
      });
      assert.deepEqual(await get(access), { ok: true });
      assert.deepEqual(s2.clients, ['spire-agent']);
    } finally {
      await s2.close();
    }
  });
});

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { isAttestorError } from '../../../src/errors.js';
import { resolveKubeAccess, type KubeAccess, type KubeAccessOptions } from '../../../src/kube/access.js';
import { createKubeClient } from '../../../src/kube/http.js';
import { startFakeApiServer, type ClientFiles, type FakeApiServer } from '../../support/fake-apiserver.js';
import { createCa, type TestCert } from '../../support/pki.js';
import { EMPTY_ENV, tempDir } from './helpers.js';

const CSRS = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

describe('resolveKubeAccess', () => {
  const dir = tempDir();
  const home = join(dir, 'home');
  let api: FakeApiServer;
  let files: ClientFiles;
  let agentCert: TestCert;
  const write = (name: string, text: string): string => {
    const p = join(dir, name);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, text);
    return p;
  };
  const resolve = (o: KubeAccessOptions) => resolveKubeAccess({ env: EMPTY_ENV, homeDir: home, ...o });
  /** Does one request and returns the user the fake server saw. */
  const whoAmI = async (access: KubeAccess): Promise<string | undefined> => {
    const c = createKubeClient(access);
    try {
      await c.requestJson('GET', `${CSRS}/none`).catch((err: unknown) => {
        if (!(isAttestorError(err, 'ERR_KUBE_API') && err.details.status === 404)) throw err;
      });
      return api.requests.at(-1)!.user;
    } finally {
      c.close();
    }
  };

  before(async () => {
    api = await startFakeApiServer({ tokens: { 'tok-123': 'token-user' } });
    files = await api.writeClientFiles(join(dir, 'creds'));
    agentCert = await api.issueClientCert('kubeconfig-user');
  });
  after(async () => {
    await api.close();
  });

  it('says what to do when nothing configures a server', async () => {
    await assert.rejects(resolve({}), (err: unknown) => {
      assert.ok(isAttestorError(err, 'ERR_INPUT'));
      assert.equal(
        err.message,
        'no Kubernetes API server configured: pass -kubeconfig <file> (or set KUBECONFIG, or create ~/.kube/config), or run in a pod with a service account',
      );
      return true;
    });
  });

  it('uses client certificate flags with a server', async () => {
    const access = await resolve({ server: api.url, ...files });
    assert.equal(access.origin, 'flags');
    assert.equal(access.description, `${api.url} as client certificate O=spire, CN=spire-agent`);
    assert.deepEqual(access.warnings, []);
    assert.equal(await whoAmI(access), 'spire-agent');
  });

  it('needs -client-cert and -client-key together (ERR_USAGE)', async () => {
    await assert.rejects(
      resolve({ server: api.url, clientCert: files.clientCert }),
      (err: unknown) =>
        isAttestorError(err, 'ERR_USAGE') &&
        err.message.includes('-client-cert was given without -client-key'),
    );
    await assert.rejects(
      resolve({ server: api.url, clientKey: files.clientKey }),
      (err: unknown) =>
        isAttestorError(err, 'ERR_USAGE') &&
        err.message.includes('-client-key was given without -client-cert'),
    );
    await assert.rejects(
      resolve({ server: api.url, caCert: files.caCert, insecureSkipTlsVerify: true }),
      (err: unknown) => isAttestorError(err, 'ERR_USAGE'),
    );
  });

  it('rejects a key that does not match the certificate, naming both files', async () => {
    const otherKey = write('other.key', (await api.issueClientCert('x')).key.privateKeyPem);
    await assert.rejects(
      resolve({ server: api.url, clientCert: files.clientCert, clientKey: otherKey }),
      (err: unknown) => {
        assert.ok(isAttestorError(err, 'ERR_INPUT'));
        assert.equal(
          err.message,
          `client certificate -client-cert ${files.clientCert} and client key -client-key ${otherKey} do not match (the key is not the certificate's)`,
        );
        return true;
      },
    );
  });

  it('validates PEM files at load time, naming the file and never quoting a key', async () => {
    const notPem = write('not-pem.crt', 'hello');
    const garbageCert = write(
      'garbage.crt',
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
    );
    const badKey = write(
      'bad.key',
      '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n',
    );
    const encKey = write(
      'enc.key',
      '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n',
    );
    const cases: [KubeAccessOptions, RegExp][] = [
      [
        { caCert: join(dir, 'missing.crt') },
        /^-ca-cert .*missing\.crt: cannot read the file \(no such file\)$/,
      ],
      [{ caCert: notPem }, /^-ca-cert .*not-pem\.crt: no PEM CERTIFICATE block found$/],
      [{ caCert: dir }, /^-ca-cert .*: cannot read the file \(is a directory\)$/],
      [{ caCert: garbageCert }, /certificate #1 does not parse as X\.509/],
      [
        { clientCert: files.clientCert, clientKey: badKey },
        /^-client-key .*bad\.key: the PRIVATE KEY block does not parse as a private key$/,
      ],
      [{ clientCert: files.clientCert, clientKey: encKey }, /the private key is encrypted/],
      [{ clientCert: files.clientCert, clientKey: dir }, /cannot read the file \(is a directory\)/],
    ];
    for (const [o, re] of cases)
      await assert.rejects(
        resolve({ server: api.url, ...o }),
        (err: unknown) =>
          isAttestorError(err, 'ERR_INPUT') && re.test(err.message) && !err.message.includes('c2VjcmV0'),
        re.source,
      );
  });

  it('loads the kubeconfig from KUBECONFIG (inline data) and describes where it came from', async () => {
    const kc = write('kc/inline', api.kubeconfig({ cert: agentCert }));
    const access = await resolve({ env: { KUBECONFIG: kc } });
    assert.equal(access.origin, 'kubeconfig');
    assert.equal(
      access.description,
      `${api.url} as client certificate CN=kubeconfig-user (kubeconfig ${kc}, context "fake")`,
    );
    assert.equal(await whoAmI(access), 'kubeconfig-user');
  });

  it('loads ~/.kube/config with file paths relative to it', async () => {
    mkdirSync(join(home, '.kube', 'pki'), { recursive: true });
    writeFileSync(join(home, '.kube', 'pki', 'ca.crt'), api.serverCa.pem);
    writeFileSync(join(home, '.kube', 'pki', 'a.crt'), agentCert.pem);
    writeFileSync(join(home, '.kube', 'pki', 'a.key'), agentCert.key.privateKeyPem);
    writeFileSync(
      join(home, '.kube', 'config'),
      [
        'apiVersion: v1',
        'clusters: [{name: c, cluster: {server: "' + api.url + '", certificate-authority: pki/ca.crt}}]',
        'users: [{name: u, user: {client-certificate: pki/a.crt, client-key: pki/a.key}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
      ].join('\n'),
    );
    try {
      assert.equal(await whoAmI(await resolve({})), 'kubeconfig-user');
    } finally {
      writeFileSync(join(home, '.kube', 'config'), '');
    }
  });

  it('lets -ca-cert/-client-cert/-client-key override the kubeconfig TLS fields (2018 precedence)', async () => {
    const wrongCa = await createCa('CN=wrong');
    const kcText = api
      .kubeconfig({ cert: agentCert })
      .replace(
        /certificate-authority-data: .*/,
        `certificate-authority-data: ${Buffer.from(wrongCa.pem).toString('base64')}`,
      );
    const kc = write('kc/override', kcText);
    await assert.rejects(whoAmI(await resolve({ kubeconfig: kc })), (err: unknown) =>
      isAttestorError(err, 'ERR_KUBE_TLS'),
    );
    assert.equal(await whoAmI(await resolve({ kubeconfig: kc, caCert: files.caCert })), 'kubeconfig-user');
    assert.equal(await whoAmI(await resolve({ kubeconfig: kc, ...files })), 'spire-agent');
  });

  it('a -ca-cert clears the kubeconfig insecure-skip-tls-verify; insecure alone warns', async () => {
    const kcText = api
      .kubeconfig({ cert: agentCert })
      .replace(/certificate-authority-data: .*/, 'insecure-skip-tls-verify: true');
    const kc = write('kc/insecure', kcText);
    const insecure = await resolve({ kubeconfig: kc });
    assert.equal(insecure.tls.insecureSkipTlsVerify, true);
    assert.equal(insecure.warnings.length, 1);
    assert.equal(await whoAmI(insecure), 'kubeconfig-user');
    const fixed = await resolve({ kubeconfig: kc, caCert: files.caCert });
    assert.equal(fixed.tls.insecureSkipTlsVerify, false);
    assert.deepEqual(fixed.warnings, []);
  });

  it('accepts a kubeconfig whose CA data is the server certificate itself (pinned)', async () => {
    const kc = write('kc/pinned', api.kubeconfig({ cert: agentCert }, { pinned: true }));
    assert.equal(await whoAmI(await resolve({ kubeconfig: kc })), 'kubeconfig-user');
  });

  it('uses a kubeconfig token, keeping it out of the description and inspect output', async () => {
    const kc = write('kc/token', api.kubeconfig({ token: 'tok-123' }));
    const access = await resolve({ kubeconfig: kc });
    assert.match(access.description, /with the bearer token from the token of kubeconfig user "fake-user"/);
    assert.doesNotMatch(
      `${access.description} ${inspect(access, { depth: 10 })} ${JSON.stringify(access)}`,
      /tok-123/,
    );
    assert.equal(await whoAmI(access), 'token-user');
  });

  it('uses a kubeconfig tokenFile relative to the kubeconfig, naming the key when it is missing', async () => {
    const kcText = api.kubeconfig({ token: 'unused' }).replace(/token: unused/, 'tokenFile: tokens/agent');
    const kc = write('kc-tf/config', kcText);
    await assert.rejects(resolve({ kubeconfig: kc }), (err: unknown) => {
      assert.ok(isAttestorError(err, 'ERR_INPUT'));
      assert.equal(
        err.message,
        `token file ${join(dir, 'kc-tf/tokens/agent')} (users[name="fake-user"].user.tokenFile in kubeconfig ${kc}): cannot read the file (no such file)`,
      );
      return true;
    });
    write('kc-tf/tokens/agent', 'tok-123\n');
    assert.equal(await whoAmI(await resolve({ kubeconfig: kc })), 'token-user');
  });

  it('fails on an explicit kubeconfig that does not exist', async () => {
    await assert.rejects(
      resolve({ kubeconfig: join(dir, 'nope') }),
      (err: unknown) =>
        isAttestorError(err, 'ERR_INPUT') &&
        err.message.includes('nope: cannot read the file (no such file)'),
    );
  });

  it('falls back from an implicit kubeconfig without a current-context to the server flag', async () => {
    const kc = write('kc/nocontext', api.kubeconfig({ cert: agentCert }).replace(/current-context: .*/, ''));
    const access = await resolve({ env: { KUBECONFIG: kc }, server: api.url, ...files });
    assert.equal(access.origin, 'flags');
    await assert.rejects(
      resolve({ env: { KUBECONFIG: kc } }),
      (err: unknown) =>
        isAttestorError(err, 'ERR_INPUT') && err.message.includes('no current-context is set'),
    );
  });

  it('falls back to in-cluster when there is no kubeconfig, and rejects in-cluster plus a kubeconfig', async () => {
    const sa = join(dir, 'sa');
    write('sa/token', 'tok-123\n');
    write('sa/ca.crt', api.serverCa.pem);
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) };
    const access = await resolve({ env, serviceAccountDir: sa });
    assert.equal(access.origin, 'in-cluster');
    assert.equal(
      access.description,
      `${api.url} with the bearer token from token file ${join(sa, 'token')} (in-cluster service account)`,
    );
    assert.equal(await whoAmI(access), 'token-user');
    await assert.rejects(
      resolve({ env, serviceAccountDir: sa, inCluster: true, kubeconfig: '/x' }),
      (err: unknown) => isAttestorError(err, 'ERR_USAGE'),
    );
  });

  it('warns about anonymous access', async () => {
    const access = await resolve({ server: api.url, caCert: files.caCert });
    assert.match(access.description, / anonymously$/);
    assert.match(access.warnings.join(), /anonymous/);
  });

  it('rejects non-https servers and URLs with credentials', async () => {
    await assert.rejects(
      resolve({ server: 'http://127.0.0.1:8080' }),
      (err: unknown) => isAttestorError(err, 'ERR_INPUT') && err.message.includes('must be an https:// URL'),
    );
    await assert.rejects(
      resolve({ server: 'https://user:hunter2@127.0.0.1' }),
      (err: unknown) => isAttestorError(err, 'ERR_INPUT') && !err.message.includes('hunter2'),
    );
    const access = await resolve({ server: '127.0.0.1:6443', caCert: files.caCert });
    assert.equal(access.server.href, 'https://127.0.0.1:6443/');
  });
});

/**
 * kubeconfig exec credential plugins, with real plugin processes (test/support/exec-plugin.ts)
 * against the fake API server: what the plugin is given, token and certificate results, the
 * cache, expiry, the retry after a 401, and every way a plugin can fail.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { isatty } from 'node:tty';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAttestorError } from '../../../src/errors.js';
import { resolveKubeAccess, type KubeAccess } from '../../../src/kube/access.js';
import { createKubeClient, type KubeClient } from '../../../src/kube/http.js';
import { startFakeApiServer, type FakeApiServer } from '../../support/fake-apiserver.js';
import { execUserLines, writeExecPlugin, type ExecStep } from '../../support/exec-plugin.js';
import { createCa, createCert, EKU, KU, type TestCert } from '../../support/pki.js';
import { EMPTY_ENV, tempDir } from './helpers.js';

const CSRS = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
const PAST = '2000-01-01T00:00:00Z';

type SetupOptions = NonNullable<Parameters<typeof execUserLines>[1]> & {
  /** Instead of the plugin's path. */
  readonly command?: string;
  /** Extra lines in the cluster entry. */
  readonly clusterLines?: string[];
};

describe('kubeconfig exec credential plugins', () => {
  const dir = tempDir('kube-exec-');
  let api: FakeApiServer;
  let certA: TestCert;
  let certB: TestCert;
  let foreign: TestCert;
  let n = 0;

  before(async () => {
    api = await startFakeApiServer({ tokens: { 'tok-a': 'exec-user-a', 'tok-b': 'exec-user-b' } });
    certA = await api.issueClientCert('exec-cert-a');
    certB = await api.issueClientCert('exec-cert-b');
    // Signed by a CA the API server does not trust: the server answers 401.
    const otherCa = await createCa('CN=not-the-client-ca');
    foreign = await createCert({
      subject: 'CN=exec-cert-foreign',
      issuer: otherCa,
      ca: false,
      keyUsage: KU.digitalSignature,
      extKeyUsage: [EKU.clientAuth],
    });
  });
  after(async () => {
    await api.close();
  });

  /** A fresh plugin and a kubeconfig whose user runs it. */
  const setup = (steps: readonly ExecStep[], opts: SetupOptions = {}, watchEnv: string[] = []) => {
    n++;
    const pdir = join(dir, `p${String(n)}`);
    mkdirSync(pdir, { recursive: true });
    const plugin = writeExecPlugin(pdir, 'get-credentials', steps, watchEnv);
    let text = api.kubeconfig({ token: 'placeholder' }).replace(
      '    token: placeholder',
      execUserLines(opts.command ?? plugin.path, opts)
        .map((l) => `    ${l}`)
        .join('\n'),
    );
    if (opts.clusterLines !== undefined)
      text = text.replace(
        /( {4}certificate-authority-data: .*\n)/,
        `$1${opts.clusterLines.map((l) => `    ${l}`).join('\n')}\n`,
      );
    const kubeconfig = join(pdir, 'kubeconfig');
    writeFileSync(kubeconfig, text);
    return { plugin, kubeconfig };
  };
  const resolve = (kubeconfig: string): Promise<KubeAccess> =>
    resolveKubeAccess({ kubeconfig, env: EMPTY_ENV, homeDir: dir });
  /** One request; the user the fake server saw. */
  const whoAmI = async (c: KubeClient): Promise<string | undefined> => {
    await c.requestJson('GET', `${CSRS}/none`).catch((err: unknown) => {
      if (!(isAttestorError(err, 'ERR_KUBE_API') && err.details.status === 404)) throw err;
    });
    return api.requests.at(-1)?.user;
  };
  const withClient = async <T>(access: KubeAccess, f: (c: KubeClient) => Promise<T>): Promise<T> => {
    const c = createKubeClient(access, { requestTimeoutMs: 5000 });
    try {
      return await f(c);
    } finally {
      c.close();
    }
  };

  it('runs the plugin on the first request (not at start-up) with its args, env and KUBERNETES_EXEC_INFO, and sends its token', async () => {
    const { plugin, kubeconfig } = setup(
      [{ status: { token: 'tok-a' } }],
      { args: ['get-token', '--cluster', 'c1'], env: { EXEC_TEST_REGION: 'eu-west-1' } },
      ['EXEC_TEST_REGION', 'PATH'],
    );
    const access = await resolve(kubeconfig);
    assert.equal(plugin.runs(), 0, 'not run while resolving');
    assert.equal(
      access.description,
      `${api.url} with the credentials from the exec plugin "${plugin.path}" of kubeconfig user "fake-user" (kubeconfig ${kubeconfig}, context "fake")`,
    );
    assert.deepEqual(access.warnings, []);
    assert.equal(await withClient(access, whoAmI), 'exec-user-a');
    const [rec] = plugin.records();
    assert.deepEqual(rec?.argv, ['get-token', '--cluster', 'c1']);
    assert.equal(rec.env.EXEC_TEST_REGION, 'eu-west-1');
    assert.equal(rec.env.PATH, process.env.PATH ?? null, 'our environment is passed on');
    assert.deepEqual(rec.info, {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: { interactive: false },
    });
  });

  it('caches a result without expirationTimestamp: many requests, concurrent ones too, one run', async () => {
    const { plugin, kubeconfig } = setup([{ status: { token: 'tok-a' } }, { status: { token: 'tok-b' } }]);
    const access = await resolve(kubeconfig);
    await withClient(access, async (c) => {
      const users = await Promise.all([whoAmI(c), whoAmI(c), whoAmI(c)]);
      assert.deepEqual(users, ['exec-user-a', 'exec-user-a', 'exec-user-a']);
      assert.equal(await whoAmI(c), 'exec-user-a');
    });
    assert.equal(plugin.runs(), 1);
  });

  it('gives the cluster to the plugin with provideClusterInfo (v1beta1, interactiveMode defaulted)', async () => {
    const { plugin, kubeconfig } = setup(
      [{ status: { token: 'tok-b' }, apiVersion: 'client.authentication.k8s.io/v1beta1' }],
      {
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        interactiveMode: '',
        provideClusterInfo: true,
        clusterLines: [
          'extensions:',
          '- name: unrelated.example.com/thing',
          '  extension: {a: 1}',
          '- name: client.authentication.k8s.io/exec',
          '  extension: {audience: sts.example.com, region: 2}',
        ],
      },
    );
    assert.equal(await withClient(await resolve(kubeconfig), whoAmI), 'exec-user-b');
    const info = plugin.records()[0]?.info;
    assert.equal(info?.apiVersion, 'client.authentication.k8s.io/v1beta1');
    // IfAvailable: interactive exactly when our standard input is a terminal.
    assert.equal(info.spec.interactive, isatty(0));
    const cluster = info.spec.cluster ?? {};
    assert.equal(cluster.server, api.url);
    assert.equal(
      Buffer.from(String(cluster['certificate-authority-data']), 'base64').toString(),
      api.serverCa.pem,
    );
    assert.deepEqual(cluster.config, { audience: 'sts.example.com', region: 2 });
  });

  it('uses a client-certificate result as the TLS identity', async () => {
    const { kubeconfig } = setup([
      { status: { clientCertificateData: certA.pem, clientKeyData: certA.key.privateKeyPem } },
    ]);
    assert.equal(await withClient(await resolve(kubeconfig), whoAmI), 'exec-cert-a');
  });

  it('runs the plugin again once the result has expired; a new certificate replaces the TLS identity', async () => {
    const { plugin, kubeconfig } = setup([
      { status: { token: 'tok-a', expirationTimestamp: PAST } },
      {
        status: {
          clientCertificateData: certA.pem,
          clientKeyData: certA.key.privateKeyPem,
          expirationTimestamp: PAST,
        },
      },
      {
        status: { clientCertificateData: certB.pem, clientKeyData: certB.key.privateKeyPem },
        expiresInMs: 3_600_000,
      },
    ]);
    await withClient(await resolve(kubeconfig), async (c) => {
      assert.equal(await whoAmI(c), 'exec-user-a');
      assert.equal(await whoAmI(c), 'exec-cert-a');
      assert.equal(await whoAmI(c), 'exec-cert-b', 'the connection with certificate A is not reused');
      assert.equal(await whoAmI(c), 'exec-cert-b');
    });
    assert.equal(plugin.runs(), 3);
  });

  it('after a 401 runs the plugin again and sends the request once more', async () => {
    const { plugin, kubeconfig } = setup([{ status: { token: 'revoked' } }, { status: { token: 'tok-b' } }]);
    await withClient(await resolve(kubeconfig), async (c) => {
      const before = api.requests.length;
      assert.equal(await whoAmI(c), 'exec-user-b');
      assert.deepEqual(
        api.requests.slice(before).map((r) => [r.auth, r.user]),
        [
          ['token', undefined],
          ['token', 'exec-user-b'],
        ],
      );
    });
    assert.equal(plugin.runs(), 2);
  });

  it('after a 401 to a client certificate, takes the new certificate from the plugin', async () => {
    const { plugin, kubeconfig } = setup([
      { status: { clientCertificateData: foreign.pem, clientKeyData: foreign.key.privateKeyPem } },
      { status: { clientCertificateData: certB.pem, clientKeyData: certB.key.privateKeyPem } },
    ]);
    assert.equal(await withClient(await resolve(kubeconfig), whoAmI), 'exec-cert-b');
    assert.equal(plugin.runs(), 2);
  });

  it('reports a 401 that fresh credentials do not cure, after one renewal (no loop)', async () => {
    const { plugin, kubeconfig } = setup([{ status: { token: 'revoked' } }]);
    await assert.rejects(withClient(await resolve(kubeconfig), whoAmI), (err: unknown) => {
      assert.ok(isAttestorError(err, 'ERR_KUBE_UNAUTHORIZED'));
      assert.match(
        err.message,
        /did not accept the credentials \(credentials from the exec plugin ".*get-credentials" of kubeconfig user "fake-user"\): 401/,
      );
      return true;
    });
    assert.equal(plugin.runs(), 2);
  });

  describe('a plugin that fails: ERR_KUBE_CREDENTIALS, one line naming the user and the command, no secret', () => {
    const cases: { name: string; steps: ExecStep[]; re: RegExp; opts?: SetupOptions }[] = [
      {
        name: 'non-zero exit, with the last line of stderr',
        steps: [{ exit: 1, stderr: 'refreshing the session\nerror: the SSO session has expired\n\n' }],
        re: /: it exited with code 1: error: the SSO session has expired$/,
      },
      {
        name: 'non-zero exit, silent',
        steps: [{ exit: 3 }],
        re: /: it exited with code 3 \(nothing on stderr\)$/,
      },
      {
        name: 'output that is not JSON (never quoted)',
        steps: [{ raw: 'token=tok-secret-123' }],
        re: /: its output on stdout is not an ExecCredential \(not JSON\)$/,
      },
      {
        name: 'another apiVersion than asked for',
        steps: [{ status: { token: 'tok-a' }, apiVersion: 'client.authentication.k8s.io/v1beta1' }],
        re: /: it returned apiVersion "client\.authentication\.k8s\.io\/v1beta1" but the kubeconfig asks for "client\.authentication\.k8s\.io\/v1"$/,
      },
      {
        name: 'another kind',
        steps: [{ raw: '{"apiVersion":"client.authentication.k8s.io/v1","kind":"Secret"}' }],
        re: /: its output has kind "Secret", not "ExecCredential"$/,
      },
      {
        name: 'no status',
        steps: [{ raw: '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential"}' }],
        re: /: it returned no status$/,
      },
      {
        name: 'neither a token nor a certificate',
        steps: [{ status: { expirationTimestamp: '2099-01-01T00:00:00Z' } }],
        re: /: it returned neither status\.token nor status\.clientCertificateData and status\.clientKeyData$/,
      },
      {
        name: 'a certificate without its key',
        steps: [{ status: { clientCertificateData: 'x' } }],
        re: /: it returned status\.clientCertificateData without status\.clientKeyData; a plugin must give both$/,
      },
      {
        name: 'a certificate that is not PEM',
        steps: [{ status: { clientCertificateData: 'not pem', clientKeyData: 'tok-secret-123' } }],
        re: /: status\.clientCertificateData: no PEM CERTIFICATE block found$/,
      },
      {
        name: 'a bad expirationTimestamp',
        steps: [{ status: { token: 'tok-secret-123', expirationTimestamp: 'tomorrow' } }],
        re: /: status\.expirationTimestamp "tomorrow" is not an RFC 3339 time$/,
      },
      {
        name: 'a command that is not installed, with the installHint',
        steps: [],
        opts: {
          command: 'no-such-credential-plugin-4711',
          installHint:
            'no-such-credential-plugin is needed for this cluster.\nInstall it with:\n  brew install it',
        },
        re: /^exec plugin "no-such-credential-plugin-4711" of kubeconfig user "fake-user": command not found \(looked for "no-such-credential-plugin-4711" on PATH\); no-such-credential-plugin is needed for this cluster\. Install it with: brew install it$/,
      },
      {
        name: 'a command that is not installed, without a hint',
        steps: [],
        opts: { command: 'no-such-credential-plugin-4711' },
        re: /command not found \(looked for "no-such-credential-plugin-4711" on PATH\); install it, or fix users\[name="fake-user"\]\.user\.exec\.command in kubeconfig .*kubeconfig$/,
      },
    ];
    for (const c of cases)
      it(c.name, async () => {
        const { plugin, kubeconfig } = setup(c.steps, c.opts);
        await assert.rejects(withClient(await resolve(kubeconfig), whoAmI), (err: unknown) => {
          assert.ok(isAttestorError(err, 'ERR_KUBE_CREDENTIALS'), String(err));
          assert.match(err.message, c.re);
          const command = c.opts?.command ?? plugin.path;
          assert.ok(
            err.message.startsWith(`exec plugin "${command}" of kubeconfig user "fake-user": `),
            err.message,
          );
          assert.doesNotMatch(err.message, /\n|tok-secret-123/);
          assert.equal(err.details.user, 'fake-user');
          return true;
        });
      });

    it('a command path that does not exist', async () => {
      const { kubeconfig } = setup([], { command: './bin/missing-plugin' });
      await assert.rejects(withClient(await resolve(kubeconfig), whoAmI), (err: unknown) => {
        assert.ok(isAttestorError(err, 'ERR_KUBE_CREDENTIALS'));
        // Relative to the kubeconfig's directory, as client-go resolves it.
        assert.match(
          err.message,
          /^exec plugin ".*\/p\d+\/bin\/missing-plugin" of kubeconfig user "fake-user": command not found \(no such file\); install it, or fix /,
        );
        return true;
      });
    });

    it('a command that is not executable', async () => {
      const { plugin, kubeconfig } = setup([{ status: { token: 'tok-a' } }]);
      chmodSync(plugin.path, 0o644);
      await assert.rejects(
        withClient(await resolve(kubeconfig), whoAmI),
        (err: unknown) =>
          isAttestorError(err, 'ERR_KUBE_CREDENTIALS') &&
          err.message.endsWith(': the command cannot be run (permission denied: is it executable?)'),
      );
    });
  });
});

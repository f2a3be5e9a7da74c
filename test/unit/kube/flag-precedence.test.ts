/**
 * Credentials given as flags replace the kubeconfig user, which is then not read at all: an
 * EKS/GKE/AKS ~/.kube/config (an exec plugin, an auth-provider, username/password) must not stop
 * the seed's `-ca-cert … -client-cert … -client-key …`, and its exec command must not run.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAttestorError } from '../../../src/errors.js';
import { resolveKubeAccess, type KubeAccess, type KubeAccessOptions } from '../../../src/kube/access.js';
import { createKubeClient } from '../../../src/kube/http.js';
import { execUserLines, writeExecPlugin, type ExecPlugin } from '../../support/exec-plugin.js';
import { startFakeApiServer, type ClientFiles, type FakeApiServer } from '../../support/fake-apiserver.js';
import { EMPTY_ENV, tempDir } from './helpers.js';

const CSRS = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

describe('credentials from flags replace the kubeconfig user, unread', () => {
  const dir = tempDir('kube-precedence-');
  let api: FakeApiServer;
  let files: ClientFiles;
  let tokenFile: string;
  let plugin: ExecPlugin;

  before(async () => {
    api = await startFakeApiServer({ tokens: { 'tok-flag': 'token-file-user', 'tok-exec': 'exec-user' } });
    files = await api.writeClientFiles(join(dir, 'creds'));
    tokenFile = join(dir, 'creds', 'token');
    writeFileSync(tokenFile, 'tok-flag\n');
    plugin = writeExecPlugin(dir, 'aws', [{ status: { token: 'tok-exec' } }]);
  });
  after(async () => {
    await api.close();
  });

  const whoAmI = async (access: KubeAccess): Promise<string | undefined> => {
    const c = createKubeClient(access, { requestTimeoutMs: 5000 });
    try {
      await c.requestJson('GET', `${CSRS}/none`).catch((err: unknown) => {
        if (!(isAttestorError(err, 'ERR_KUBE_API') && err.details.status === 404)) throw err;
      });
      return api.requests.at(-1)?.user;
    } finally {
      c.close();
    }
  };

  /** The kubeconfig users a cloud provider's CLI writes, and ones we cannot use at all. */
  const users = (): Record<string, string[]> => ({
    exec: execUserLines(plugin.path, { args: ['eks', 'get-token'] }),
    'exec that is malformed': ['exec:', '  command: aws'],
    'auth-provider': ['auth-provider:', '  name: gcp', '  config: {cmd-path: /usr/bin/gcloud}'],
    'username/password': ['username: admin', 'password: hunter2'],
  });
  /** A ~/.kube/config for the fake server whose user is `lines`; returns the home directory. */
  const home = (name: string, lines: string[]): string => {
    const h = join(dir, 'homes', name.replaceAll(/\W/g, '-'));
    mkdirSync(join(h, '.kube'), { recursive: true });
    const text = api
      .kubeconfig({ token: 'placeholder' })
      .replace('    token: placeholder', lines.map((l) => `    ${l}`).join('\n'))
      .replaceAll('fake-user', 'aws');
    writeFileSync(join(h, '.kube', 'config'), text);
    return h;
  };
  const flagSets = (): [string, KubeAccessOptions, string][] => [
    [
      'the seed: -ca-cert -client-cert -client-key',
      { caCert: files.caCert, clientCert: files.clientCert, clientKey: files.clientKey },
      'spire-agent',
    ],
    ['-token-file', { caCert: files.caCert, tokenFile }, 'token-file-user'],
    [
      '-server with -client-cert/-client-key',
      { server: api.url, caCert: files.caCert, clientCert: files.clientCert, clientKey: files.clientKey },
      'spire-agent',
    ],
    ['-server with -token-file', { server: api.url, caCert: files.caCert, tokenFile }, 'token-file-user'],
  ];

  for (const kind of ['exec', 'exec that is malformed', 'auth-provider', 'username/password'])
    it(`a ~/.kube/config user with ${kind}: each set of credential flags wins, and nothing of the user is used`, async () => {
      const h = home(kind, users()[kind] ?? []);
      for (const [what, flags, expected] of flagSets()) {
        const access = await resolveKubeAccess({ env: EMPTY_ENV, homeDir: h, ...flags });
        assert.equal(access.origin, 'kubeconfig', what);
        assert.match(access.description, /; its user "aws" is replaced by the flags\)$/, what);
        assert.equal(await whoAmI(access), expected, what);
      }
      assert.equal(plugin.runs(), 0, 'the exec command never ran');
    });

  it('the same with the kubeconfig named by -kubeconfig or KUBECONFIG', async () => {
    const config = join(home('explicit', users().exec ?? []), '.kube', 'config');
    const seed = { caCert: files.caCert, clientCert: files.clientCert, clientKey: files.clientKey };
    for (const o of [{ kubeconfig: config }, { env: { KUBECONFIG: config } }])
      assert.equal(
        await whoAmI(await resolveKubeAccess({ env: EMPTY_ENV, homeDir: dir, ...seed, ...o })),
        'spire-agent',
      );
    assert.equal(plugin.runs(), 0);
  });

  it('without credential flags the kubeconfig user is used: the exec plugin runs, the others are refused', async () => {
    const exec = await resolveKubeAccess({ env: EMPTY_ENV, homeDir: home('exec-used', users().exec ?? []) });
    assert.equal(await whoAmI(exec), 'exec-user');
    assert.equal(plugin.runs(), 1);
    for (const [kind, re] of [
      ['auth-provider', /user "aws" uses the auth-provider "gcp"/],
      ['username/password', /user "aws" uses username\/password/],
      ['exec that is malformed', /users\[name="aws"\]\.user\.exec\.apiVersion is required/],
    ] as const)
      await assert.rejects(
        // -server and -ca-cert are not credentials: the user is still the kubeconfig's.
        resolveKubeAccess({
          env: EMPTY_ENV,
          homeDir: home(`${kind}-used`, users()[kind] ?? []),
          server: api.url,
          caCert: files.caCert,
        }),
        (err: unknown) => isAttestorError(err, 'ERR_INPUT') && re.test(err.message),
        kind,
      );
  });

  it('a -client-cert replaces a kubeconfig token too: no bearer token is sent with it', async () => {
    const h = home('token-user', ['token: tok-exec']);
    const access = await resolveKubeAccess({
      env: EMPTY_ENV,
      homeDir: h,
      clientCert: files.clientCert,
      clientKey: files.clientKey,
    });
    assert.equal(access.credentials, undefined);
    assert.doesNotMatch(access.description, /bearer/);
  });
});

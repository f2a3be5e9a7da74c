import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { inspect } from 'node:util';
import { before, describe, it } from 'node:test';
import { isAttestorError } from '../../../src/errors.js';
import { locateKubeconfig, mergeKubeconfigs, selectContext } from '../../../src/kube/kubeconfig.js';
import { tempDir } from './helpers.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function kc(parts: { clusters?: string[]; users?: string[]; contexts?: string[]; current?: string }): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    ...(parts.clusters === undefined ? [] : ['clusters:', ...parts.clusters]),
    ...(parts.users === undefined ? [] : ['users:', ...parts.users]),
    ...(parts.contexts === undefined ? [] : ['contexts:', ...parts.contexts]),
    ...(parts.current === undefined ? [] : [`current-context: ${parts.current}`]),
    '',
  ].join('\n');
}
const cluster = (name: string, body: string[]): string =>
  [`- name: ${name}`, '  cluster:', ...body.map((l) => `    ${l}`)].join('\n');
const user = (name: string, body: string[]): string =>
  [`- name: ${name}`, '  user:', ...body.map((l) => `    ${l}`)].join('\n');
const context = (name: string, c: string, u?: string): string =>
  [`- name: ${name}`, '  context:', `    cluster: ${c}`, ...(u === undefined ? [] : [`    user: ${u}`])].join(
    '\n',
  );

describe('kubeconfig', () => {
  const dir = tempDir();
  const write = (name: string, text: string): string => {
    const p = join(dir, name);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, text);
    return p;
  };
  const load = (file: string, context?: string) => selectContext(mergeKubeconfigs([file]), context);

  let basic: string;
  before(() => {
    basic = write(
      'basic/config',
      kc({
        clusters: [
          cluster('prod', [
            'server: https://10.0.0.1:6443',
            'certificate-authority: pki/ca.crt',
            'tls-server-name: api.internal',
          ]),
          cluster('dev', ['server: 127.0.0.1:8443', `certificate-authority-data: ${b64('CA PEM')}`]),
        ],
        users: [
          user('agent', ['client-certificate: pki/agent.crt', 'client-key: /abs/agent.key']),
          user('inline', [`client-certificate-data: ${b64('CERT')}`, `client-key-data: ${b64('KEY')}`]),
          user('tok', ['token: abc.def']),
          user('tokfile', ['tokenFile: tokens/t']),
        ],
        contexts: [
          context('p', 'prod', 'agent'),
          context('d', 'dev', 'inline'),
          context('t', 'dev', 'tok'),
          context('tf', 'dev', 'tokfile'),
        ],
        current: 'p',
      }),
    );
  });

  it('uses current-context and resolves relative paths against the kubeconfig directory', () => {
    const r = load(basic);
    assert.equal(r.contextName, 'p');
    assert.equal(r.cluster.server, 'https://10.0.0.1:6443');
    assert.equal(r.cluster.tlsServerName, 'api.internal');
    assert.deepEqual(
      r.cluster.certificateAuthority?.kind === 'file' && r.cluster.certificateAuthority.path,
      join(dir, 'basic/pki/ca.crt'),
    );
    assert.ok(
      r.user.clientCertificate?.kind === 'file' &&
        r.user.clientCertificate.path === join(dir, 'basic/pki/agent.crt'),
    );
    assert.ok(r.user.clientKey?.kind === 'file' && r.user.clientKey.path === '/abs/agent.key');
    assert.match(r.user.clientCertificate.source.label, /client-certificate in kubeconfig/);
  });

  it('selects an explicit context; inline data is decoded', () => {
    const r = load(basic, 'd');
    assert.ok(r.cluster.certificateAuthority?.kind === 'data');
    assert.equal(r.cluster.certificateAuthority.data.reveal().toString(), 'CA PEM');
    assert.ok(r.user.clientKey?.kind === 'data');
    assert.equal(r.user.clientKey.data.reveal().toString(), 'KEY');
    assert.doesNotMatch(inspect(r, { depth: 10 }), /KEY'|S0VZ/);
  });

  it('keeps tokens out of inspect output; resolves tokenFile relative paths', () => {
    const t = load(basic, 't');
    assert.equal(t.user.token?.reveal(), 'abc.def');
    assert.doesNotMatch(inspect(t, { depth: 10 }), /abc\.def/);
    assert.doesNotMatch(JSON.stringify(t), /abc\.def/);
    assert.equal(load(basic, 'tf').user.tokenFile, join(dir, 'basic/tokens/t'));
  });

  it('names the available contexts when one is unknown', () => {
    assert.throws(
      () => load(basic, 'x'),
      (err: unknown) =>
        isAttestorError(err, 'ERR_INPUT') &&
        err.message === `kubeconfig ${basic}: context "x" not found (available: p, d, t, tf)`,
    );
  });

  it('says when no current-context is set', () => {
    const f = write(
      'nocurrent',
      kc({ clusters: [cluster('c', ['server: https://x'])], contexts: [context('a', 'c')] }),
    );
    assert.throws(
      () => load(f),
      (err: unknown) =>
        isAttestorError(err, 'ERR_INPUT') &&
        err.message.includes('no current-context is set; choose a context (available: a)'),
    );
  });

  it('rejects auth-provider (naming its exec replacement), basic auth, impersonation and proxy-url with what to use instead', () => {
    const cases: [string[], string[], RegExp][] = [
      [
        ['server: https://x'],
        ['auth-provider:', '  name: oidc'],
        /uses the auth-provider "oidc", which Kubernetes clients no longer support \(removed in 1\.26\); use its exec credential plugin instead: kubelogin \(github\.com\/int128\/kubelogin.*, or pass a client certificate or a token file \(-client-cert\/-client-key or -token-file\), which replace the kubeconfig user$/,
      ],
      [
        ['server: https://x'],
        ['auth-provider:', '  name: gcp'],
        /auth-provider "gcp".*use its exec credential plugin instead: gke-gcloud-auth-plugin/,
      ],
      [
        ['server: https://x'],
        ['auth-provider:', '  name: azure'],
        /auth-provider "azure".*use its exec credential plugin instead: kubelogin \(github\.com\/Azure\/kubelogin/,
      ],
      [
        ['server: https://x'],
        ['auth-provider:', '  name: custom'],
        /auth-provider "custom".*use the exec credential plugin that replaces it \(user\.exec\)/,
      ],
      [
        ['server: https://x'],
        ['username: u', 'password: p'],
        /basic\) authentication, which the Kubernetes API server no longer accepts \(removed in 1\.19\); use an exec credential plugin/,
      ],
      [['server: https://x'], ['as: admin'], /sets as \(impersonation\)/],
      [
        ['server: https://x', 'proxy-url: http://proxy:3128'],
        [],
        /sets proxy-url, which node-attestor does not support/,
      ],
    ];
    cases.forEach(([c, u, re], i) => {
      const f = write(
        `unsupported-${i}`,
        kc({
          clusters: [cluster('c', c)],
          users: [user('u', u.length === 0 ? ['token: x'] : u)],
          contexts: [context('a', 'c', 'u')],
          current: 'a',
        }),
      );
      assert.throws(
        () => load(f),
        (err: unknown) =>
          isAttestorError(err, 'ERR_INPUT') &&
          re.test(err.message) &&
          err.message.startsWith(`kubeconfig ${f}: `) &&
          !err.message.includes('\n'),
        re.source,
      );
    });
  });

  it('does not validate users and clusters the context does not use', () => {
    const f = write(
      'unused-exec',
      kc({
        clusters: [cluster('c', ['server: https://x'])],
        users: [user('exec', ['exec:', '  command: aws']), user('ok', ['token: t'])],
        contexts: [context('a', 'c', 'ok')],
        current: 'a',
      }),
    );
    assert.equal(load(f).userName, 'ok');
  });

  it('rejects conflicting and half-given fields', () => {
    const cases: [string[], string[], RegExp][] = [
      [
        ['server: https://x', 'certificate-authority: a', `certificate-authority-data: ${b64('x')}`],
        ['token: t'],
        /sets both certificate-authority and certificate-authority-data/,
      ],
      [
        ['server: https://x', 'certificate-authority: a', 'insecure-skip-tls-verify: true'],
        ['token: t'],
        /both insecure-skip-tls-verify and a certificate authority/,
      ],
      [['server: https://x'], ['client-certificate: a'], /a client certificate but no client key; give both/],
      [
        ['server: https://x'],
        ['client-certificate-data: "%%%"', `client-key-data: ${b64('k')}`],
        /client-certificate-data: is not valid base64/,
      ],
      [['certificate-authority: a'], ['token: t'], /cluster "c" has no server/],
      [
        ['server: https://x', 'insecure-skip-tls-verify: "yes"'],
        ['token: t'],
        /insecure-skip-tls-verify must be true or false/,
      ],
    ];
    cases.forEach(([c, u, re], i) => {
      const f = write(
        `conflict-${i}`,
        kc({
          clusters: [cluster('c', c)],
          users: [user('u', u)],
          contexts: [context('a', 'c', 'u')],
          current: 'a',
        }),
      );
      assert.throws(
        () => load(f),
        (err: unknown) => isAttestorError(err, 'ERR_INPUT') && re.test(err.message),
        re.source,
      );
    });
  });

  it('reports a missing file and malformed YAML (position only, never content)', () => {
    assert.throws(
      () => mergeKubeconfigs([join(dir, 'missing')]),
      (err: unknown) =>
        isAttestorError(err, 'ERR_INPUT') &&
        err.message.includes('missing: cannot read the file (no such file)'),
    );
    // A directory given as the kubeconfig is named as one, like -ca-cert's.
    assert.throws(
      () => mergeKubeconfigs([dir]),
      (err: unknown) =>
        isAttestorError(err, 'ERR_INPUT') &&
        err.message === `kubeconfig ${dir}: cannot read the file (is a directory)`,
    );
    const f = write('bad.yaml', 'users:\n- name: u\n  user:\n    token: "secret-value\n  : [\n');
    assert.throws(
      () => mergeKubeconfigs([f]),
      (err: unknown) =>
        isAttestorError(err, 'ERR_INPUT') &&
        /not valid YAML \(line \d+, column \d+\)/.test(err.message) &&
        !err.message.includes('secret-value'),
    );
    const g = write('list.yaml', '- a\n- b\n');
    assert.throws(
      () => mergeKubeconfigs([g]),
      (err: unknown) =>
        isAttestorError(err, 'ERR_INPUT') && err.message.includes('top level is not a mapping'),
    );
    assert.deepEqual(mergeKubeconfigs([write('empty.yaml', '')]).contexts.size, 0);
  });

  it('merges KUBECONFIG with first-wins rules and skips missing files', () => {
    const a = write(
      'merge/a',
      kc({
        clusters: [cluster('c', ['server: https://a'])],
        users: [user('u', ['token: ta'])],
        contexts: [context('x', 'c', 'u')],
      }),
    );
    const b = write(
      'merge/b',
      kc({
        clusters: [cluster('c', ['server: https://b']), cluster('c2', ['server: https://b2'])],
        users: [user('u', ['token: tb'])],
        contexts: [context('x', 'c2', 'u'), context('y', 'c2', 'u')],
        current: 'y',
      }),
    );
    const c = write('merge/c', kc({ current: 'x' }));
    const located = locateKubeconfig({
      env: { KUBECONFIG: [a, join(dir, 'merge/none'), b, c, a].join(delimiter) },
    });
    assert.deepEqual(located, { files: [a, b, c], explicit: false });
    const merged = mergeKubeconfigs(located.files);
    assert.equal(merged.currentContext, 'y'); // b is the first file with a current-context
    const y = selectContext(merged);
    assert.equal(y.cluster.server, 'https://b2');
    assert.equal(y.user.token?.reveal(), 'ta'); // user "u" from a wins
    assert.equal(selectContext(merged, 'x').cluster.server, 'https://a'); // context "x" and cluster "c" from a
  });

  it('locates an explicit path, else KUBECONFIG, else ~/.kube/config', () => {
    assert.deepEqual(locateKubeconfig({ path: basic, env: { KUBECONFIG: '/nope' } }), {
      files: [basic],
      explicit: true,
    });
    const home = join(dir, 'home');
    assert.deepEqual(locateKubeconfig({ env: {}, homeDir: home }), { files: [], explicit: false });
    const cfg = write('home/.kube/config', kc({}));
    assert.deepEqual(locateKubeconfig({ env: {}, homeDir: home }), { files: [cfg], explicit: false });
    assert.deepEqual(locateKubeconfig({ env: { KUBECONFIG: '' }, homeDir: home }), {
      files: [cfg],
      explicit: false,
    });
  });
});

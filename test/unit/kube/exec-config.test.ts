import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isAttestorError } from '../../../src/errors.js';
import { parseExecConfig } from '../../../src/kube/exec-config.js';
import { mergeKubeconfigs, selectContext } from '../../../src/kube/kubeconfig.js';
import { tempDir } from './helpers.js';

const V1 = 'client.authentication.k8s.io/v1';
const V1BETA1 = 'client.authentication.k8s.io/v1beta1';

describe('the exec block of a kubeconfig user', () => {
  const dir = tempDir('kube-exec-config-');

  it('reads command, args, env, installHint, provideClusterInfo and interactiveMode', () => {
    const cfg = parseExecConfig(
      {
        apiVersion: V1,
        command: 'aws',
        args: ['--region', 'eu-west-1', 'eks', 'get-token'],
        env: [{ name: 'AWS_PROFILE', value: 'prod' }],
        installHint: 'install the AWS CLI',
        provideClusterInfo: true,
        interactiveMode: 'Never',
      },
      '/home/u/.kube/config',
      'arn:aws:eks:eu-west-1:1:cluster/c',
    );
    assert.deepEqual(cfg, {
      command: 'aws',
      args: ['--region', 'eu-west-1', 'eks', 'get-token'],
      env: [{ name: 'AWS_PROFILE', value: 'prod' }],
      apiVersion: V1,
      installHint: 'install the AWS CLI',
      provideClusterInfo: true,
      interactiveMode: 'Never',
      userName: 'arn:aws:eks:eu-west-1:1:cluster/c',
      file: '/home/u/.kube/config',
    });
  });

  it('resolves a relative command with a slash against the kubeconfig, as client-go does; a bare name stays for PATH', () => {
    const at = (command: string): string =>
      parseExecConfig({ apiVersion: V1, command, interactiveMode: 'Never' }, '/etc/kube/config', 'u').command;
    assert.equal(at('./bin/get-token'), '/etc/kube/bin/get-token');
    assert.equal(at('bin/get-token'), '/etc/kube/bin/get-token');
    assert.equal(at('/usr/bin/get-token'), '/usr/bin/get-token');
    assert.equal(at('get-token'), 'get-token');
  });

  it('defaults interactiveMode to IfAvailable for v1beta1 only', () => {
    assert.equal(
      parseExecConfig({ apiVersion: V1BETA1, command: 'x' }, '/k', 'u').interactiveMode,
      'IfAvailable',
    );
    assert.throws(
      () => parseExecConfig({ apiVersion: V1, command: 'x' }, '/k', 'u'),
      (err: unknown) =>
        isAttestorError(err, 'ERR_INPUT') &&
        err.message ===
          'kubeconfig /k: users[name="u"].user.exec.interactiveMode is required with client.authentication.k8s.io/v1 (Never, IfAvailable, Always)',
    );
  });

  it('rejects a malformed block, naming the key (ERR_INPUT)', () => {
    const cases: [unknown, RegExp][] = [
      ['aws', /\.exec must be a mapping$/],
      [
        { apiVersion: V1, interactiveMode: 'Never' },
        /\.exec\.command is required: the credential plugin to run$/,
      ],
      [
        { command: 'aws' },
        /\.exec\.apiVersion is required \(client\.authentication\.k8s\.io\/v1 or .*v1beta1\)$/,
      ],
      [
        { command: 'aws', apiVersion: 'client.authentication.k8s.io/v1alpha1' },
        /\.exec\.apiVersion "client\.authentication\.k8s\.io\/v1alpha1" is not supported; use /,
      ],
      [
        { command: 'aws', apiVersion: V1, interactiveMode: 'Sometimes' },
        /interactiveMode "Sometimes" is not one of Never, IfAvailable, Always$/,
      ],
      [
        { command: 'aws', apiVersion: V1BETA1, args: 'eks get-token' },
        /\.exec\.args must be a list of strings$/,
      ],
      [
        { command: 'aws', apiVersion: V1BETA1, env: [{ name: 'A' }] },
        /\.exec\.env\[0\] must have a name and a string value$/,
      ],
      [
        { command: 'aws', apiVersion: V1BETA1, provideClusterInfo: 'yes' },
        /provideClusterInfo must be true or false$/,
      ],
      [{ command: 7, apiVersion: V1BETA1 }, /\.exec\.command must be a string$/],
    ];
    for (const [raw, re] of cases)
      assert.throws(
        () => parseExecConfig(raw, '/k', 'u'),
        (err: unknown) =>
          isAttestorError(err, 'ERR_INPUT') &&
          err.message.startsWith('kubeconfig /k: users[name="u"].user.exec') &&
          re.test(err.message),
        re.source,
      );
  });

  it('is read from the kubeconfig with the cluster exec extension; exec together with other credentials is refused', () => {
    const write = (name: string, user: string[]): string => {
      const p = join(dir, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        p,
        [
          'apiVersion: v1',
          'clusters:',
          '- name: c',
          '  cluster:',
          '    server: https://127.0.0.1:6443',
          '    extensions:',
          '    - name: client.authentication.k8s.io/exec',
          '      extension: {audience: x}',
          'users:',
          '- name: u',
          '  user:',
          ...user.map((l) => `    ${l}`),
          'contexts: [{name: a, context: {cluster: c, user: u}}]',
          'current-context: a',
          '',
        ].join('\n'),
      );
      return p;
    };
    const exec = ['exec:', `  apiVersion: ${V1}`, '  command: bin/login', '  interactiveMode: IfAvailable'];
    const ok = write('ok', exec);
    const r = selectContext(mergeKubeconfigs([ok]));
    assert.equal(r.user.exec?.command, join(dir, 'bin/login'));
    assert.deepEqual(r.cluster.execExtension, { audience: 'x' });
    for (const [extra, what] of [
      [['token: t'], 'token'],
      [['tokenFile: /t'], 'tokenFile'],
      [['client-certificate: /c', 'client-key: /k'], 'a client certificate'],
    ] as const) {
      const f = write(`both-${what.replaceAll(' ', '-')}`, [...exec, ...extra]);
      assert.throws(
        () => selectContext(mergeKubeconfigs([f])),
        (err: unknown) =>
          isAttestorError(err, 'ERR_INPUT') &&
          err.message === `kubeconfig ${f}: user "u" sets both exec and ${what}; keep one`,
      );
    }
    // Not read at all when the caller says so (credentials from flags).
    const broken = write('broken', ['exec:', '  command: aws']);
    assert.deepEqual(selectContext(mergeKubeconfigs([broken]), undefined, { readUser: false }).user, {});
  });
});

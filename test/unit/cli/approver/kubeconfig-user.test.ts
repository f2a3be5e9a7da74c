/**
 * `node-attestor approver` with credential flags and a kubeconfig (KUBECONFIG) whose user is an
 * exec plugin or an auth-provider: the flags win, the kubeconfig user is not read, the exec
 * command does not run.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { approverMain } from '../../../../src/cli/approver/command.js';
import { execUserLines, writeExecPlugin } from '../../../support/exec-plugin.js';
import { AGENT, apiSetup, tempDir, until, type ApiSetup } from '../../approver/helpers.js';

describe('node-attestor approver: credential flags win over the kubeconfig user', () => {
  let s: ApiSetup;
  const dir = tempDir('approver-kubeconfig-user-');
  before(async () => {
    s = await apiSetup();
  });
  after(async () => {
    await s.close();
  });

  for (const [kind, lines] of [
    ['an exec plugin', (p: string) => execUserLines(p)],
    ['an auth-provider', () => ['auth-provider:', '  name: oidc']],
    ['username/password', () => ['username: admin', 'password: hunter2']],
  ] as const)
    it(`runs with a kubeconfig user that has ${kind}; the exec command never runs`, async () => {
      const sub = join(dir, kind.replaceAll(/\W/g, '-'));
      mkdirSync(sub, { recursive: true });
      const plugin = writeExecPlugin(sub, 'aws', [{ status: { token: 'unused' } }]);
      const kubeconfig = join(sub, 'config');
      writeFileSync(
        kubeconfig,
        s.api.kubeconfig({ token: 'placeholder' }).replace(
          '    token: placeholder',
          lines(plugin.path)
            .map((l) => `    ${l}`)
            .join('\n'),
        ),
      );
      const before = s.api.requests.length;
      const ac = new AbortController();
      let err = '';
      let url: string | undefined;
      const code = approverMain(
        [
          ...s.approverFlags,
          '-allow-requester',
          AGENT,
          '-leader-elect=false',
          '-http-address',
          '127.0.0.1:0',
        ],
        {
          stdout: () => undefined,
          stderr: (t) => (err += t),
          stderrIsTTY: false,
          signal: ac.signal,
          version: 't',
        },
        {
          env: { KUBECONFIG: kubeconfig },
          onStarted: (i) => {
            url = i.url;
          },
        },
      );
      let exited: number | undefined;
      void code.then((c) => (exited = c));
      await until(() => url !== undefined || exited !== undefined);
      assert.equal(exited, undefined, `the approver stopped: ${err}`);
      // It lists CSRs as the -client-cert user.
      await until(() =>
        s.api.requests
          .slice(before)
          .some((r) => r.user === 'system:serviceaccount:spire:node-attestor-approver'),
      );
      ac.abort();
      assert.equal(await code, 0, err);
      assert.equal(plugin.runs(), 0);
    });

  it('without credential flags, an exec plugin that fails stops the approver with exit 4 (first LIST)', async () => {
    const sub = join(dir, 'failing');
    mkdirSync(sub, { recursive: true });
    const plugin = writeExecPlugin(sub, 'aws', [{ exit: 255, stderr: 'Unable to locate credentials\n' }]);
    const kubeconfig = join(sub, 'config');
    writeFileSync(
      kubeconfig,
      s.api.kubeconfig({ token: 'placeholder' }).replace(
        '    token: placeholder',
        execUserLines(plugin.path)
          .map((l) => `    ${l}`)
          .join('\n'),
      ),
    );
    let err = '';
    const code = await approverMain(
      ['-allow-requester', AGENT, '-leader-elect=false', '-http-address', '127.0.0.1:0'],
      { stdout: () => undefined, stderr: (t) => (err += t), stderrIsTTY: false, version: 't' },
      { env: { KUBECONFIG: kubeconfig } },
    );
    assert.equal(code, 4, err);
    assert.match(
      err,
      /node-attestor approver: error: exec plugin ".*aws" of kubeconfig user "fake-user": it exited with code 255: Unable to locate credentials\n$/,
    );
    assert.equal(plugin.runs(), 1);
  });
});

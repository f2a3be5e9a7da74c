/**
 * The command with a cloud provider's ~/.kube/config: credential flags win before the
 * kubeconfig user is looked at (the exec command does not run), and without flags an exec
 * plugin user works end to end, its failures exiting 4 on one line.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../../src/cli/main.js';
import { execUserLines, writeExecPlugin, type ExecPlugin } from '../../support/exec-plugin.js';
import { startFakeApiServer, type ClientFiles, type FakeApiServer } from '../../support/fake-apiserver.js';

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    stderrIsTTY: false,
    version: 't',
  });
  return { code, stdout, stderr };
}

describe('node-attestor with a ~/.kube/config whose user it would not use', () => {
  let dir: string;
  let api: FakeApiServer;
  let files: ClientFiles;
  let plugin: ExecPlugin;
  const saved = { HOME: process.env.HOME, KUBECONFIG: process.env.KUBECONFIG };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'na-cli-kubeconfig-users-'));
    api = await startFakeApiServer({ autoApprove: 'approve-and-sign', tokens: { 'tok-exec': 'exec-user' } });
    files = await api.writeClientFiles(join(dir, 'keys'));
    plugin = writeExecPlugin(dir, 'aws', [{ status: { token: 'tok-exec' } }]);
    // The command reads $HOME/.kube/config like kubectl; nothing else may leak in.
    delete process.env.KUBECONFIG;
  });
  after(async () => {
    process.env.HOME = saved.HOME;
    if (saved.KUBECONFIG !== undefined) process.env.KUBECONFIG = saved.KUBECONFIG;
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Makes $HOME/.kube/config the fake server's cluster with user "aws" = `lines`. */
  const homeWith = (name: string, lines: string[]): void => {
    const home = join(dir, 'home', name);
    mkdirSync(join(home, '.kube'), { recursive: true });
    writeFileSync(
      join(home, '.kube', 'config'),
      api
        .kubeconfig({ token: 'placeholder' })
        .replace('    token: placeholder', lines.map((l) => `    ${l}`).join('\n'))
        .replaceAll('fake-user', 'aws'),
    );
    process.env.HOME = home;
  };
  const seed = (): string[] => [
    '-ca-cert',
    files.caCert,
    '-client-cert',
    files.clientCert,
    '-client-key',
    files.clientKey,
  ];
  let runs = 0;
  const idDir = (): string => join(dir, `id-${String(++runs)}`);

  const kinds: [string, () => string[]][] = [
    ['an exec plugin (EKS)', () => execUserLines(plugin.path, { args: ['eks', 'get-token'] })],
    ['an auth-provider (old GKE)', () => ['auth-provider:', '  name: gcp']],
    ['username/password', () => ['username: admin', 'password: hunter2']],
  ];
  for (const [kind, lines] of kinds)
    it(`the seed's command (and with -server) works with a user that has ${kind}; the exec command does not run`, async () => {
      homeWith(kind.replaceAll(/\W/g, '-'), lines());
      for (const extra of [[], ['-server', api.url]]) {
        const out = idDir();
        const r = await cli([...seed(), ...extra, '-agent-name', 'node-a', '-id-dir', out]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^issued an identity for node node-a/);
        assert.ok(existsSync(join(out, 'id-doc.crt')));
      }
      const csr = api.csr(api.csrNames().at(-1) ?? '');
      assert.equal(csr?.spec.username, 'spire-agent', 'created as the -client-cert user');
      assert.equal(plugin.runs(), 0);
    });

  it('without credential flags the exec plugin user obtains the identity', async () => {
    homeWith('exec-used', execUserLines(plugin.path));
    const r = await cli(['-agent-name', 'node-e', '-id-dir', idDir()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(api.csr(api.csrNames().at(-1) ?? '')?.spec.username, 'exec-user');
    assert.equal(plugin.runs(), 1);
  });

  it('a failing exec plugin exits 4 with one line naming the user and the command; a missing one with its installHint', async () => {
    const failing = writeExecPlugin(dir, 'gke-gcloud-auth-plugin', [
      { exit: 1, stderr: 'ERROR: (gcloud.auth) You do not currently have an active account selected.\n' },
    ]);
    homeWith('exec-failing', execUserLines(failing.path));
    const r = await cli(['-agent-name', 'node-f', '-id-dir', idDir()]);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(
      r.stderr.split('\n').at(-2),
      `node-attestor: error: exec plugin "${failing.path}" of kubeconfig user "aws": it exited with code 1: ERROR: (gcloud.auth) You do not currently have an active account selected.`,
    );
    homeWith(
      'exec-missing',
      execUserLines('kubelogin-not-installed', {
        installHint: 'Install kubelogin: https://azure.github.io/kubelogin',
      }),
    );
    const missing = await cli(['-agent-name', 'node-f', '-id-dir', idDir()]);
    assert.equal(missing.code, 4);
    assert.match(
      missing.stderr,
      /\nnode-attestor: error: exec plugin "kubelogin-not-installed" of kubeconfig user "aws": command not found \(looked for "kubelogin-not-installed" on PATH\); Install kubelogin: https:\/\/azure\.github\.io\/kubelogin\n$/,
    );
  });

  it('an auth-provider user without credential flags exits 3 naming its exec replacement', async () => {
    homeWith('gcp-used', ['auth-provider:', '  name: gcp']);
    const r = await cli(['-agent-name', 'node-g', '-id-dir', idDir()]);
    assert.equal(r.code, 3);
    assert.match(
      r.stderr,
      /user "aws" uses the auth-provider "gcp".*use its exec credential plugin instead: gke-gcloud-auth-plugin/,
    );
    assert.equal(r.stderr.split('\n').length, 2);
  });
});

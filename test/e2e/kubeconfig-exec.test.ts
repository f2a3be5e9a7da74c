/**
 * Kubeconfig exec credential plugins against a real control plane, with real plugin processes
 * (test/support/exec-plugin.ts): a service-account token from the TokenRequest API
 * (`kubectl create token`) and a client certificate signed by the cluster CA as results, expiry
 * and refresh, a plugin that fails, the retry after the API server's 401, and credential flags
 * that win over an exec user without running it. The CLI runs as shipped (dist/).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAttestorError } from '../../src/errors.js';
import { resolveKubeAccess } from '../../src/kube/access.js';
import { createKubeClient } from '../../src/kube/http.js';
import { NODE_CLIENT_CREATE, startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import type { UserCredential } from '../harness/cluster-pki.js';
import { execUserLines, writeExecPlugin, type ExecPlugin, type ExecStep } from '../support/exec-plugin.js';
import { identityFiles, runCli, type CliRun } from './support/cli.js';
import { NODECLIENT_ROLE } from './support/rbac.js';

const CSRS = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
const SA = 'exec-agent';
const SA_USER = `system:serviceaccount:default:${SA}`;

interface CsrList {
  items: { metadata: { name: string }; spec: { username: string } }[];
}

describe('kubeconfig exec credential plugins on a real control plane', () => {
  let cp: ControlPlane;
  let work: string;
  let token: string;
  let agent: UserCredential;
  let n = 0;

  before(async () => {
    cp = await startControlPlane();
    work = mkdtempSync(join(tmpdir(), 'na-exec-e2e-'));
    // spire-agent (client certificate) with the kit's RBAC, and a service account with the same
    // rights whose TokenRequest token the token plugins hand out.
    agent = await cp.setUpSpireAgent();
    await cp.kubectl(['create', 'serviceaccount', SA, '-n', 'default']);
    await cp.kubectl([
      'create',
      'clusterrolebinding',
      `${SA}-csr`,
      '--clusterrole=csr-create-get',
      `--serviceaccount=default:${SA}`,
    ]);
    await cp.kubectl([
      'create',
      'clusterrolebinding',
      `${SA}-nodeclient`,
      `--clusterrole=${NODECLIENT_ROLE}`,
      `--serviceaccount=default:${SA}`,
    ]);
    await cp.waitForAccess(SA_USER, NODE_CLIENT_CREATE);
    token = (await cp.kubectl(['create', 'token', SA, '-n', 'default', '--duration=1h'])).trim();
  });
  after(async () => {
    await cp.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** A plugin following `steps` and a kubeconfig (real server, cluster CA) whose user runs it. */
  const execSetup = (steps: readonly ExecStep[]): { plugin: ExecPlugin; kubeconfig: string; dir: string } => {
    n++;
    const dir = join(work, `case-${String(n)}`);
    mkdirSync(dir, { recursive: true });
    const plugin = writeExecPlugin(dir, 'get-token', steps);
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: local',
        '  cluster:',
        `    server: ${JSON.stringify(cp.server)}`,
        `    certificate-authority: ${JSON.stringify(cp.pki.caCertPath)}`,
        'users:',
        '- name: cloud-user',
        '  user:',
        ...execUserLines(plugin.path, { args: ['token', '--cluster', 'local'] }).map((l) => `    ${l}`),
        'contexts:',
        '- name: local',
        '  context: {cluster: local, user: cloud-user}',
        'current-context: local',
        '',
      ].join('\n'),
    );
    return { plugin, kubeconfig, dir };
  };
  const csrsOf = async (user: string): Promise<string[]> => {
    const r = await cp.adminRequest('GET', CSRS);
    return (JSON.parse(r.body) as CsrList).items
      .filter((c) => c.spec.username === user)
      .map((c) => c.metadata.name);
  };
  const issued = (r: CliRun, node: string): void => {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^issued an identity for node ${node} \\(CSR node-csr-${node}-`));
  };

  it('a token result: the CLI obtains an identity as the service account the token belongs to', async () => {
    const { plugin, kubeconfig, dir } = execSetup([{ status: { token } }]);
    const id = join(dir, 'id');
    const r = await runCli(['-kubeconfig', kubeconfig, '-agent-name', 'exec-token', '-id-dir', id]);
    issued(r, 'exec-token');
    assert.deepEqual(identityFiles(id), ['id-doc.crt', 'id-doc.key']);
    assert.equal((await csrsOf(SA_USER)).filter((c) => c.startsWith('node-csr-exec-token-')).length, 1);
    assert.equal(plugin.runs(), 1, 'one run serves every request of the run (create, watch)');
    assert.deepEqual(plugin.records()[0]?.argv, ['token', '--cluster', 'local']);
  });

  it('a client-certificate result: the CLI authenticates with it (spire-agent, signed by the cluster CA)', async () => {
    const { plugin, kubeconfig, dir } = execSetup([
      {
        status: {
          clientCertificateData: readFileSync(agent.certPath, 'utf8'),
          clientKeyData: readFileSync(agent.keyPath, 'utf8'),
        },
      },
    ]);
    const r = await runCli([
      '-kubeconfig',
      kubeconfig,
      '-agent-name',
      'exec-cert',
      '-id-dir',
      join(dir, 'id'),
    ]);
    issued(r, 'exec-cert');
    assert.equal((await csrsOf('spire-agent')).filter((c) => c.startsWith('node-csr-exec-cert-')).length, 1);
    assert.equal(plugin.runs(), 1);
  });

  it('a result is reused until its expirationTimestamp, then the plugin runs again', async () => {
    // Second precision, as client-go's plugins write it.
    const expiry = Math.ceil((Date.now() + 3000) / 1000) * 1000;
    const { plugin, kubeconfig, dir } = execSetup([
      { status: { token, expirationTimestamp: new Date(expiry).toISOString().replace('.000Z', 'Z') } },
      { status: { token }, expiresInMs: 3_600_000 },
    ]);
    const client = createKubeClient(await resolveKubeAccess({ kubeconfig, env: {}, homeDir: dir }));
    /** An authorised GET as the service account: 404 for a CSR that does not exist. */
    const get = (): Promise<void> =>
      client.requestJson('GET', `${CSRS}/does-not-exist`).then(
        () => assert.fail('expected 404'),
        (err: unknown) => {
          if (!(isAttestorError(err, 'ERR_KUBE_API') && err.details.status === 404)) throw err;
        },
      );
    try {
      await get();
      await get();
      assert.equal(plugin.runs(), 1, 'cached before the expiry');
      while (Date.now() <= expiry) await new Promise((r) => setTimeout(r, 100));
      await get();
      assert.equal(plugin.runs(), 2, 'ran again after the expiry');
      await get();
      assert.equal(plugin.runs(), 2);
    } finally {
      client.close();
    }
  });

  it('a 401 from the API server runs the plugin again and the request is sent once more', async () => {
    const { plugin, kubeconfig, dir } = execSetup([
      { status: { token: 'not-a-valid-token' } },
      { status: { token } },
    ]);
    const r = await runCli([
      '-kubeconfig',
      kubeconfig,
      '-agent-name',
      'exec-retry',
      '-id-dir',
      join(dir, 'id'),
    ]);
    issued(r, 'exec-retry');
    assert.equal(plugin.runs(), 2);
  });

  it('a plugin that keeps giving a rejected token: exit 4 after one renewal, nothing created or written', async () => {
    const { plugin, kubeconfig, dir } = execSetup([{ status: { token: 'not-a-valid-token' } }]);
    const id = join(dir, 'id');
    const r = await runCli(['-kubeconfig', kubeconfig, '-agent-name', 'exec-rejected', '-id-dir', id]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(
      r.stderr,
      /did not accept the credentials \(credentials from the exec plugin ".*get-token" of kubeconfig user "cloud-user"\): 401 Unauthorized/,
    );
    assert.equal(plugin.runs(), 2);
    assert.deepEqual(identityFiles(id), []);
  });

  it('a failing plugin: exit 4, one line with the user, the command and its last stderr line; no CSR, nothing written', async () => {
    const { plugin, kubeconfig, dir } = execSetup([
      {
        exit: 1,
        stderr: 'An error occurred (ExpiredToken): The security token included in the request is expired\n',
      },
    ]);
    const before = (await csrsOf(SA_USER)).length;
    const id = join(dir, 'id');
    const r = await runCli(['-kubeconfig', kubeconfig, '-agent-name', 'exec-failing', '-id-dir', id]);
    assert.equal(r.code, 4, r.stderr);
    const last = r.stderr.trimEnd().split('\n').at(-1);
    assert.equal(
      last,
      `node-attestor: error: exec plugin "${plugin.path}" of kubeconfig user "cloud-user": it exited with code 1: An error occurred (ExpiredToken): The security token included in the request is expired`,
    );
    assert.equal((await csrsOf(SA_USER)).length, before);
    assert.deepEqual(identityFiles(id), []);
  });

  it("the seed's flags win over an exec kubeconfig user: the plugin never runs", async () => {
    const { plugin, kubeconfig, dir } = execSetup([{ exit: 1, stderr: 'must not run\n' }]);
    const seed = [
      '-ca-cert',
      cp.pki.apiserverCertPath,
      '-client-cert',
      agent.certPath,
      '-client-key',
      agent.keyPath,
    ];
    issued(
      await runCli([...seed, '-agent-name', 'exec-seed', '-id-dir', join(dir, 'a')], {
        KUBECONFIG: kubeconfig,
      }),
      'exec-seed',
    );
    issued(
      await runCli([
        ...seed,
        '-server',
        cp.server,
        '-agent-name',
        'exec-seed',
        '-id-dir',
        join(dir, 'b'),
        '-kubeconfig',
        kubeconfig,
      ]),
      'exec-seed',
    );
    assert.equal(plugin.runs(), 0);
  });
});

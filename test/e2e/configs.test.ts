/**
 * The example configurations users copy (k8s-configs/spire/server.conf and agent.conf) work as
 * written: real spire-server and spire-agent run them, with only install paths and the port
 * substituted, and the agent attests through the CSR API.
 */
import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, binPath } from '../harness/bins.js';
import { NODE_CLIENT_CREATE, startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import { freePort } from '../harness/ports.js';
import { writeKubeconfig } from '../harness/kubeconfig.js';
import { ManagedProcess } from '../harness/processes.js';
import { pluginChecksum, spireCli } from '../harness/spire.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, p: ManagedProcess, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (p.hasExited) assert.fail(`${p.name} exited: ${p.tail(15)}`);
    if (await check()) return;
    await sleep(200);
  }
  assert.fail(`${what} timed out: ${p.tail(15)}`);
}

describe('the example server.conf and agent.conf', () => {
  let cp: ControlPlane;
  let root: string;
  const procs: ManagedProcess[] = [];

  /** Runs `bin run -config conf` as the shipped configs are used, until its healthcheck passes. */
  const runHealthy = async (
    bin: 'spire-server' | 'spire-agent',
    conf: string,
    socket: string,
  ): Promise<void> => {
    const p = new ManagedProcess({
      name: bin,
      command: binPath(bin),
      args: ['run', '-config', conf],
      logFile: join(root, `${bin}.log`),
    });
    procs.push(p);
    await until(
      `${bin} healthy`,
      p,
      async () => (await spireCli(bin, ['healthcheck', '-socketPath', socket])).code === 0,
    );
  };

  before(async () => {
    cp = await startControlPlane();
    await cp.kubectl(['apply', '-f', join(REPO_ROOT, 'k8s-configs')]);
    root = mkdtempSync(join(tmpdir(), 'na-cfg-'));
  });

  after(async () => {
    for (const p of procs.reverse()) await p.stop();
    await cp.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('run as written and attest the node', async () => {
    // The install layout the files assume, under a temp root.
    const na = join(root, 'node-attestor');
    mkdirSync(join(na, 'keys'), { recursive: true });
    mkdirSync(join(root, 'spire', 'conf', 'agent'), { recursive: true });
    // The shipped layout: the executable, and links named after the plugins beside it.
    symlinkSync(join(REPO_ROOT, 'dist', 'node-attestor'), join(na, 'node-attestor'));
    for (const f of ['k8s-csr-server-plugin', 'k8s-csr-agent-plugin'])
      symlinkSync('node-attestor', join(na, f));
    const checksum = pluginChecksum(join(na, 'node-attestor'));
    copyFileSync(cp.pki.caCertPath, join(na, 'cluster-ca.crt'));
    copyFileSync(cp.adminKubeconfig, join(na, 'kubeconfig'));
    const cred = await cp.mintUser('spire-agent');
    // verify_node: the server reads the Node this host registers as (here: we create it, as a
    // kubelet would), with a user that may only get Nodes.
    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: hostname().trim().toLowerCase() },
      }),
    });
    const reader = await cp.mintUser('spire-server');
    await cp.kubectl([
      'create',
      'clusterrolebinding',
      'reader',
      '--clusterrole=spire-server-node-reader',
      '--user=spire-server',
    ]);
    mkdirSync(join(root, 'spire', 'conf', 'server'), { recursive: true });
    writeKubeconfig(
      join(root, 'spire', 'conf', 'server', 'node-reader.kubeconfig'),
      cp.server,
      cp.pki.caCertPath,
      [{ name: 'spire-server', certPath: reader.certPath, keyPath: reader.keyPath }],
    );
    await cp.waitForAccess('spire-server', { group: '', resource: 'nodes', verb: 'get' });
    copyFileSync(cred.certPath, join(na, 'keys', 'spire-agent.crt'));
    copyFileSync(cred.keyPath, join(na, 'keys', 'spire-agent.key'));
    await cp.waitForAccess('spire-agent', NODE_CLIENT_CREATE);

    const port = String(await freePort());
    const localize = (text: string): string =>
      text
        // The one line users fill in: the checksum the docs tell them to take.
        .replaceAll(
          '# plugin_checksum = "<sha256sum /opt/node-attestor/node-attestor>"',
          `plugin_checksum = "${checksum}"`,
        )
        .replaceAll('/opt/node-attestor', na)
        .replaceAll('/opt/spire', join(root, 'spire'))
        .replaceAll('/tmp/spire-server', join(root, 'ss'))
        .replaceAll('/tmp/spire-agent', join(root, 'sa'))
        .replaceAll('"8081"', `"${port}"`)
        .replaceAll('bind_address = "0.0.0.0"', 'bind_address = "127.0.0.1"');
    const serverConf = join(root, 'server.conf');
    const agentConf = join(root, 'agent.conf');
    writeFileSync(
      serverConf,
      localize(readFileSync(join(REPO_ROOT, 'k8s-configs/spire/server.conf'), 'utf8')),
    );
    writeFileSync(agentConf, localize(readFileSync(join(REPO_ROOT, 'k8s-configs/spire/agent.conf'), 'utf8')));
    for (const conf of [serverConf, agentConf])
      assert.match(readFileSync(conf, 'utf8'), /\n\s*plugin_checksum = "[0-9a-f]{64}"\n/, conf);

    const serverSock = join(root, 'ss', 'private', 'api.sock');
    await runHealthy('spire-server', serverConf, serverSock);
    const bundle = await spireCli('spire-server', ['bundle', 'show', '-socketPath', serverSock]);
    writeFileSync(join(root, 'spire', 'conf', 'agent', 'bootstrap.crt'), bundle.stdout);
    await runHealthy('spire-agent', agentConf, join(root, 'sa', 'public', 'api.sock'));

    const list = await spireCli('spire-server', ['agent', 'list', '-socketPath', serverSock]);
    const node = hostname().trim().toLowerCase();
    assert.match(
      list.stdout,
      new RegExp(
        `SPIFFE ID\\s+: spiffe://example\\.org/spire/agent/k8s_csr/demo/${node.replaceAll('.', '\\.')}`,
      ),
    );
    assert.match(list.stdout, /Attestation type\s+: k8s_csr/);
    assert.match(list.stdout, /Can re-attest\s+: true/);
    const id = `spiffe://example.org/spire/agent/k8s_csr/demo/${node}`;
    const show = await spireCli('spire-server', [
      'agent',
      'show',
      '-spiffeID',
      id,
      '-socketPath',
      serverSock,
    ]);
    const uid = (await cp.kubectl(['get', 'node', node, '-o', 'jsonpath={.metadata.uid}'])).trim();
    assert.match(show.stdout, new RegExp(`k8s_csr:agent_node_uid:${uid}`));
  });
});

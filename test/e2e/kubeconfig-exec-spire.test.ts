/**
 * Exec credential plugins inside the SPIRE plugins, loaded by real spire-server/spire-agent
 * (1.13.3) on a real control plane: the server plugin's verify_node reads Nodes with a kubeconfig
 * whose user is an exec plugin (a client-certificate result, run once and cached), and the agent
 * plugin, given client_cert_path/client_key_path, never runs its kubeconfig's exec plugin.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../harness/bins.js';
import { NODE_CLIENT_CREATE, startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import type { UserCredential } from '../harness/cluster-pki.js';
import { ourPlugin, startSpireServer, type SpireServer } from '../harness/spire.js';
import { execUserLines, writeExecPlugin, type ExecPlugin, type ExecStep } from '../support/exec-plugin.js';
import { DIST, SpireScenario } from './support/spire-scenario.js';

describe('exec credential plugins in the SPIRE plugins (real SPIRE, real control plane)', () => {
  let cp: ControlPlane;
  let work: string;
  let server: SpireServer | undefined;
  let sc: SpireScenario;
  let agentCred: UserCredential;
  let serverExec: ExecPlugin;
  let agentExec: ExecPlugin;
  let agentKubeconfig: string;

  /** A kubeconfig for the control plane whose user runs a new exec plugin following `steps`. */
  const execKubeconfig = (name: string, steps: readonly ExecStep[]): { plugin: ExecPlugin; path: string } => {
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    const plugin = writeExecPlugin(dir, 'get-credentials', steps);
    const path = join(dir, 'kubeconfig');
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: c, cluster: {server: ${JSON.stringify(cp.server)}, certificate-authority: ${JSON.stringify(cp.pki.caCertPath)}}}]`,
        'users:',
        `- name: ${name}`,
        '  user:',
        ...execUserLines(plugin.path).map((l) => `    ${l}`),
        `contexts: [{name: c, context: {cluster: c, user: ${name}}}]`,
        'current-context: c',
        '',
      ].join('\n'),
    );
    return { plugin, path };
  };
  const agentPlugin = (node: string): string =>
    sc.ours(
      [
        'cluster = "test"',
        `kubeconfig_path = "${agentKubeconfig}"`,
        `client_cert_path = "${agentCred.certPath}"`,
        `client_key_path = "${agentCred.keyPath}"`,
        `agent_name = "${node}"`,
        `identity_dir = "${sc.dir('id')}"`,
      ].join('\n'),
    );

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'na-exec-spire-'));
    cp = await startControlPlane();
    await cp.kubectl(['apply', '-f', join(REPO_ROOT, 'k8s-configs')]);
    agentCred = await cp.mintUser('spire-agent');
    const serverCred = await cp.mintUser('spire-server');
    await cp.kubectl([
      'create',
      'clusterrolebinding',
      'spire-server-node-reader-user',
      '--clusterrole=spire-server-node-reader',
      '--user=spire-server',
    ]);
    await cp.waitForAccess('spire-server', { group: '', resource: 'nodes', verb: 'get' });
    await cp.waitForAccess('spire-agent', NODE_CLIENT_CREATE);
    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-exec' } }),
    });
    // The server's credentials come from its exec plugin: the spire-server certificate.
    const s = execKubeconfig('spire-server', [
      {
        status: {
          clientCertificateData: readFileSync(serverCred.certPath, 'utf8'),
          clientKeyData: readFileSync(serverCred.keyPath, 'utf8'),
        },
      },
    ]);
    serverExec = s.plugin;
    // The agent's kubeconfig user is an exec plugin that must never run (its flags win).
    const a = execKubeconfig('cloud-admin', [{ exit: 1, stderr: 'the agent must not run this\n' }]);
    agentExec = a.plugin;
    agentKubeconfig = a.path;
    server = await startSpireServer(join(work, 'server'), {
      nodeAttestors: ourPlugin(
        'server',
        'k8s_csr',
        `clusters = {\n  "test" = {\n    ca_bundle_path = "${cp.pki.caCertPath}"\n    verify_node = true\n    kubeconfig_path = "${s.path}"\n  }\n}`,
        DIST,
      ),
    });
    sc = new SpireScenario(work, server, '');
  });
  after(async () => {
    await server?.stop();
    await cp.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("verify_node reads the Node with the exec plugin's certificate; the plugin runs once for many lookups", async () => {
    assert.equal(serverExec.runs(), 0, 'not at start-up');
    const uid = (await cp.kubectl(['get', 'node', 'node-exec', '-o', 'jsonpath={.metadata.uid}'])).trim();
    const a = await sc.expectAttests(agentPlugin('node-exec'), '/spire/agent/k8s_csr/test/node-exec');
    assert.ok(
      a.selectors.some((x) => x.value === `agent_node_uid:${uid}`),
      a.selectors.map((x) => x.value).join(' '),
    );
    await sc.expectRefused(agentPlugin('ghost'), /node ghost does not exist in cluster test/);
    assert.equal(serverExec.runs(), 1);
    // The agent plugin had client_cert_path/client_key_path: its kubeconfig's plugin never ran.
    assert.equal(agentExec.runs(), 0);
  });
});

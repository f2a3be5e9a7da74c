/**
 * Closing the trust gap, through real spire-server/spire-agent (1.13.3) on a real control plane:
 * the server plugin requires the Node named by the certificate to exist (least-privilege RBAC:
 * get nodes), carries its UID and only allow-listed labels as selectors, refuses once the Node is
 * deleted, and caps certificate lifetime and age. Every refusal is PermissionDenied with its
 * reason, logged by spire-server, and good agents keep attesting. Address binding needs SPIRE
 * 1.15, which the module proxy cannot build here: under 1.13 the option is refused at start-up.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../harness/bins.js';
import { NODE_CLIENT_CREATE, startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import { writeKubeconfig } from '../harness/kubeconfig.js';
import {
  ourPlugin,
  startSpireAgent,
  startSpireServer,
  type AttestedAgent,
  type SpireServer,
} from '../harness/spire.js';
import { createNodeClientCert } from '../support/pki.js';
import {
  DIST,
  SpireScenario,
  agentData,
  buildRoguePlugin,
  sleep,
  type AgentCredential,
} from './support/spire-scenario.js';

const M = 60_000;
const selectorsOf = (a: AttestedAgent): string[] => a.selectors.map((s) => s.value).sort();

describe('server-side node verification with real SPIRE on a real control plane', () => {
  let cp: ControlPlane;
  let work: string;
  let server: SpireServer;
  let sc: SpireScenario;
  let agentCred: AgentCredential;
  let serverKubeconfig: string;

  const serverPlugin = (extra = ''): string =>
    ourPlugin(
      'server',
      'k8s_csr',
      `clusters = {
  "test" = {
    ca_bundle_path = "${cp.pki.caCertPath}"
    verify_node = true
    kubeconfig_path = "${serverKubeconfig}"
    allowed_node_label_keys = ["topology.kubernetes.io/zone"]
    max_certificate_lifetime = "2h"
    max_certificate_age = "1h"
${extra}
  }
}`,
      DIST,
    );
  const ours = (node: string, lines: readonly string[] = []): string =>
    sc.ours(agentData(cp, agentCred, node, sc.dir('id'), { lines }));
  const createNode = (name: string, labels: Record<string, string> = {}): Promise<string> =>
    cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels } }),
    });
  const nodeUid = async (name: string): Promise<string> =>
    (await cp.kubectl(['get', 'node', name, '-o', 'jsonpath={.metadata.uid}'])).trim();

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'na-nodever-'));
    cp = await startControlPlane();
    await cp.kubectl(['apply', '-f', join(REPO_ROOT, 'k8s-configs')]);
    agentCred = await cp.mintUser('spire-agent');
    // The server reads Nodes as its own user, with exactly the shipped ClusterRole.
    const serverCred = await cp.mintUser('spire-server');
    await cp.kubectl([
      'create',
      'clusterrolebinding',
      'spire-server-node-reader-user',
      '--clusterrole=spire-server-node-reader',
      '--user=spire-server',
    ]);
    serverKubeconfig = join(work, 'spire-server.kubeconfig');
    writeKubeconfig(serverKubeconfig, cp.server, cp.pki.caCertPath, [
      { name: 'spire-server', certPath: serverCred.certPath, keyPath: serverCred.keyPath },
    ]);
    await cp.waitForAccess('spire-server', { group: '', resource: 'nodes', verb: 'get' });
    await cp.waitForAccess('spire-agent', NODE_CLIENT_CREATE);
    await createNode('node-real', {
      'topology.kubernetes.io/zone': 'z1',
      'team.example.com/secret': 'not-a-selector',
    });
    await createNode('node-doomed');
    server = await startSpireServer(join(work, 'server'), { agentTtl: '20s', nodeAttestors: serverPlugin() });
    sc = new SpireScenario(work, server, await buildRoguePlugin(work));
  });

  after(async () => {
    await server.stop();
    await cp.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('the server identity may only get Nodes (least privilege)', async () => {
    const can = async (verb: string, resource: string): Promise<string> =>
      (
        await cp
          .kubectl(['auth', 'can-i', verb, resource, '--as=spire-server'])
          .catch((e: unknown) => (e instanceof Error ? e.message : String(e)))
      ).trim();
    assert.equal(await can('get', 'nodes'), 'yes');
    for (const [verb, res] of [
      ['list', 'nodes'],
      ['watch', 'nodes'],
      ['update', 'nodes'],
      ['get', 'pods'],
      ['get', 'secrets'],
    ])
      assert.match(await can(verb!, res!), /no/, `${verb!} ${res!}`);
  });

  it('refuses a certificate minted for a node name that has no Node object', async () => {
    await sc.expectRefused(ours('ghost'), /node ghost does not exist in cluster test/);
  });

  it('attests an existing Node with its UID and allow-listed labels as selectors, and no other label', async () => {
    const a = await sc.expectAttests(ours('node-real'), '/spire/agent/k8s_csr/test/node-real');
    const sel = selectorsOf(a);
    assert.ok(sel.includes(`agent_node_uid:${await nodeUid('node-real')}`), sel.join(' '));
    assert.ok(sel.includes('agent_node_label:topology.kubernetes.io/zone:z1'), sel.join(' '));
    assert.ok(
      !sel.some((s) => s.includes('team.example.com/secret')),
      'a label not allow-listed never appears',
    );
  });

  it('refuses the next re-attestation once the Node is deleted', async () => {
    const agent = startSpireAgent(sc.dir('doomed'), server, { nodeAttestor: ours('node-doomed') });
    try {
      await agent.waitHealthy();
      const before = server.log().length;
      await cp.kubectl(['delete', 'node', 'node-doomed']);
      // agent_ttl 20 s: the agent re-attests at its next rotation, which must now be refused.
      let refused = false;
      for (let i = 0; i < 90 && !refused; i++) {
        await sleep(1000);
        refused = server.log().slice(before).includes('node node-doomed does not exist in cluster test');
      }
      assert.ok(refused, `no refused re-attestation in the server log:\n${server.process.tail(10)}`);
    } finally {
      await agent.stop();
    }
    await sc.expectRefused(ours('node-doomed'), /node node-doomed does not exist in cluster test/);
  });

  it('refuses a certificate whose lifetime exceeds the cap', async () => {
    // The control plane signs up to 24h; the server accepts at most 2h.
    await sc.expectRefused(
      ours('node-real', ['expiration = "24h"']),
      /certificate lifetime exceeds the cluster's max_certificate_lifetime/,
      /exceeds max_certificate_lifetime 2h0m0s of cluster test/,
    );
  });

  it('refuses a certificate issued too long ago', async () => {
    const now = Date.now();
    const old = await createNodeClientCert(cp.pki.ca, 'node-real', {
      notBefore: new Date(now - 90 * M),
      notAfter: new Date(now + 20 * M),
    });
    await sc.expectRefused(
      sc.rogue(sc.writeCert(old, 'issued-long-ago')),
      /certificate was issued longer ago than the cluster's max_certificate_age/,
      /issued 1h30m\d+s ago .* more than max_certificate_age 1h0m0s/,
    );
  });

  it('refuses require_node_address at start-up under SPIRE 1.13, naming why', async () => {
    await assert.rejects(
      startSpireServer(join(work, 'server-addr'), {
        name: 'spire-server (require_node_address)',
        nodeAttestors: serverPlugin('    require_node_address = true'),
      }),
      (e: Error) =>
        e.message.includes(
          "require_node_address needs SPIRE 1.15 or later, which forwards the agent's address to plugins; this spire-server is 1.13.3",
        ),
    );
  });

  it('good agents still attest afterwards', async () => {
    const a = await sc.expectAttests(ours('node-real'), '/spire/agent/k8s_csr/test/node-real');
    assert.equal(a.banned, false);
  });
});

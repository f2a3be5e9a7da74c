/**
 * The local overlay of the deployment kit (test/harness/deploy-kit.ts) builds with kustomize and
 * says what the e2e test needs: one agent DaemonSet per node with its kubelet port, spire-server
 * on the host network at the given port with an emptyDir, nothing pulled, the parameters set.
 * It copies the base's agent DaemonSet by text, so a change there that it cannot follow fails here.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { builtBinPath } from '../../harness/bins.js';
import { kitImage, writeLocalOverlay } from '../../harness/deploy-kit.js';

const kubectl = builtBinPath('kubectl');

describe('the kit overlay for a harness cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'na-kit-overlay-'));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const overlay = writeLocalOverlay({
    dir: join(dir, 'overlay'),
    clusterName: 'local',
    trustDomain: 'example.org',
    serverPort: 41234,
    pluginChecksum: 'ab'.repeat(32),
    nodes: [
      { name: 'node-a', kubeletPort: 40001 },
      { name: 'node-b', kubeletPort: 40002 },
    ],
  });

  it('names the base images', () => {
    assert.match(kitImage('spire-agent'), /^localhost\/spire-agent:\S+-k8s-csr-\S+$/);
  });

  it(
    'builds: per-node agents with their kubelet ports, the server on the host network, never pull',
    { skip: kubectl === undefined ? 'kubectl not built (npm run test-bins)' : false },
    () => {
      const out = execFileSync(kubectl ?? 'kubectl', ['kustomize', overlay], { encoding: 'utf8' });
      const docs = out.split('\n---\n');
      const daemonSets = docs.filter((d) => /^kind: DaemonSet$/m.test(d));
      assert.equal(daemonSets.length, 2, 'one agent DaemonSet per node, the base one removed');
      for (const [node, port] of [
        ['node-a', 40001],
        ['node-b', 40002],
      ] as const) {
        const ds = daemonSets.find((d) => d.includes(`name: spire-agent-${node}\n`));
        assert.ok(ds !== undefined, node);
        assert.match(ds, new RegExp(`kubernetes.io/hostname: ${node}`));
        assert.match(ds, new RegExp(`name: KUBELET_PORT\\n\\s+value: "${String(port)}"`));
        assert.match(ds, /imagePullPolicy: Never/);
        assert.match(ds, /configMapRef:\n\s+name: spire-params-[a-z0-9]+/);
      }
      const server = docs.find((d) => /^kind: StatefulSet$/m.test(d)) ?? '';
      assert.match(server, /hostNetwork: true/);
      assert.match(server, /containerPort: 41234/);
      assert.doesNotMatch(server, /volumeClaimTemplates/);
      assert.match(server, /- emptyDir: \{\}\n\s+name: data/);
      assert.doesNotMatch(out, /imagePullPolicy: IfNotPresent/);
      const params =
        docs.find((d) => d.includes('name: spire-params-') && /^kind: ConfigMap$/m.test(d)) ?? '';
      assert.match(params, /SPIRE_SERVER_ADDRESS: 127\.0\.0\.1/);
      assert.match(params, /SPIRE_SERVER_PORT: "41234"/);
      assert.match(params, new RegExp(`PLUGIN_CHECKSUM: ${'ab'.repeat(32)}`));
      assert.match(params, /CLUSTER_NAME: local/);
      assert.match(params, /KUBELET_SKIP_VERIFICATION: "false"/);
    },
  );

  it(
    'with nodeAttestor join_token: both configs swap the k8s_csr block for join_token, the agent reads JOIN_TOKEN',
    { skip: kubectl === undefined ? 'kubectl not built (npm run test-bins)' : false },
    () => {
      const jt = writeLocalOverlay({
        dir: join(dir, 'join-token'),
        clusterName: 'local',
        trustDomain: 'example.org',
        serverPort: 41234,
        pluginChecksum: 'ab'.repeat(32),
        nodes: [{ name: 'node-a', kubeletPort: 40001 }],
        nodeAttestor: 'join_token',
      });
      const out = execFileSync(kubectl ?? 'kubectl', ['kustomize', jt], { encoding: 'utf8' });
      assert.equal(out.match(/NodeAttestor "join_token" \{/g)?.length, 2);
      assert.doesNotMatch(out, /NodeAttestor "k8s_csr"/);
      assert.match(out, /agent \{\n\s+join_token = "\$\{JOIN_TOKEN\}"/);
    },
  );
});

/**
 * The floor for deploy.test.ts's figures: the same kit on the same kind of cluster (two real
 * nodes, the same images, the same overlay) with SPIRE's built-in join_token node attestor in
 * place of k8s_csr. A join_token agent needs a token the running server generates, so the
 * operator's sequence is timed: apply, wait for spire-server, generate one token per node, give
 * each agent DaemonSet its token, wait for both agents to be attested; then a workload's SVID.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { workloadEntryArgs } from '../harness/deploy-kit.js';
import { startKitCluster, type KitCluster } from './support/kit-cluster.js';

const TRUST_DOMAIN = 'example.org';
const WORKLOAD_ID = `spiffe://${TRUST_DOMAIN}/workload`;
const BOUND_MS = 180_000;

describe('the kit with join_token instead of k8s_csr (the floor)', { timeout: 20 * 60_000 }, () => {
  let kit: KitCluster;
  before(async () => {
    kit = await startKitCluster({
      clusterName: 'local',
      trustDomain: TRUST_DOMAIN,
      nodeAttestor: 'join_token',
    });
  });
  after(async () => {
    await kit.stop();
  });

  it('kubectl apply -k -> both agents attested with join tokens -> a workload SVID (figures)', async (t) => {
    const t0 = performance.now();
    await kit.kubectl(['apply', '-k', kit.overlay]);
    await kit.giveJoinTokens(BOUND_MS);
    await kit.until('both join_token agents in spire-server agent list', BOUND_MS, async () => {
      const joined = (await kit.agents()).filter((a) => a.attestation_type === 'join_token');
      return joined.length === kit.nodes.length ? true : undefined;
    });
    const attestedMs = performance.now() - t0;
    const nodeA = kit.nodes[0];
    assert.ok(nodeA !== undefined);
    const entryAt = performance.now();
    const entry = await kit.serverExec([
      ...workloadEntryArgs(`spiffe://${TRUST_DOMAIN}/node/${nodeA.name}`, WORKLOAD_ID),
    ]);
    assert.equal(entry.code, 0, entry.stderr);
    await kit.createWorkload(nodeA.name);
    const svid = await kit.until('the workload pod to fetch its X.509-SVID', 120_000, async () => {
      const r = await kit.fetchSvid();
      return r.code === 0 && r.stdout.includes(WORKLOAD_ID) ? r.stdout : undefined;
    });
    const now = performance.now();
    assert.match(svid, new RegExp(`SPIFFE ID:\\s+${WORKLOAD_ID}`));
    t.diagnostic(
      `join_token floor: apply -k -> both agents attested ${(attestedMs / 1000).toFixed(1)} s (with the token steps); ` +
        `entry create -> workload SVID ${((now - entryAt) / 1000).toFixed(1)} s; apply -k -> workload SVID ${((now - t0) / 1000).toFixed(1)} s`,
    );
  });
});

/**
 * The k8s_csr plugins loaded by real, unmodified spire-server and spire-agent (v1.13.3) on a real
 * control plane: attestation with the certificate obtained through the CSR API, re-attestation
 * on SVID rotation, interop both ways with SPIRE's built-in x509pop, and every refusal through
 * real SPIRE with its gRPC code and reason — after which good agents still attest.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import {
  TRUST_DOMAIN,
  ourPlugin,
  startSpireAgent,
  startSpireServer,
  type AttestedAgent,
  type SpireAgent,
  type SpireServer,
} from '../harness/spire.js';
import {
  EKU,
  KU,
  createCa,
  createCert,
  createNodeClientCert,
  generateTestKey,
  type TestCert,
} from '../support/pki.js';
import { runCli } from './support/cli.js';
import { DIST, SpireScenario, agentData, buildRoguePlugin, sleep } from './support/spire-scenario.js';

const idOf = (a: AttestedAgent): string => `spiffe://${a.id.trust_domain}${a.id.path}`;
const selectorsOf = (a: AttestedAgent): string[] => a.selectors.map((s) => `${s.type}:${s.value}`).sort();

describe('k8s_csr with real SPIRE on a real control plane', () => {
  let cp: ControlPlane;
  let work: string;
  let server: SpireServer;
  let otherCa: TestCert;
  let agentCred: { certPath: string; keyPath: string };
  let sc: SpireScenario;
  const dir = (what: string): string => sc.dir(what);
  const ourAgent = (node: string, idDir: string, cluster = 'test'): string =>
    agentData(cp, agentCred, node, idDir, { cluster });

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'na-spire-'));
    cp = await startControlPlane();
    agentCred = await cp.setUpSpireAgent();
    otherCa = await createCa('CN=another-cluster-ca');
    const otherCaPath = join(work, 'other-ca.crt');
    writeFileSync(otherCaPath, otherCa.pem);
    const rogueBundle = await buildRoguePlugin(work);
    // One server: our plugin as k8s_csr (two clusters), and again as "x509pop" for interop.
    server = await startSpireServer(join(work, 'server'), {
      agentTtl: '20s',
      nodeAttestors: [
        ourPlugin(
          'server',
          'k8s_csr',
          `clusters = {\n  "test" = { ca_bundle_path = "${cp.pki.caCertPath}" }\n  "other" = { ca_bundle_path = "${otherCaPath}" }\n}`,
          DIST,
        ),
        ourPlugin(
          'server',
          'x509pop',
          `plugin_name = "x509pop"\nclusters = { "test" = { ca_bundle_path = "${cp.pki.caCertPath}" } }`,
          DIST,
        ),
      ].join('\n'),
    });
    sc = new SpireScenario(work, server, rogueBundle);
  });

  after(async () => {
    await server.stop();
    await cp.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('attests an agent whose certificate came through the CSR API, with its ID and selectors, and re-attests on rotation', async () => {
    const idDir = dir('id');
    const agent: SpireAgent = startSpireAgent(dir('agent'), server, {
      nodeAttestor: ourPlugin('agent', 'k8s_csr', ourAgent('node-a', idDir), DIST),
    });
    try {
      await agent.waitHealthy();
      // Counted before the SVID serial is read, so a rotation in between cannot hide in the
      // baseline; the first attestation's line is waited for (spire-server logs it on its own time).
      const attestedLines = (): number =>
        (server.log().match(/attested node.*node-a|node-a.*attested node/g) ?? []).length;
      for (let i = 0; i < 100 && attestedLines() === 0; i++) await sleep(100);
      const attestedBefore = attestedLines();
      assert.ok(attestedBefore > 0, 'spire-server logged the attestation');
      const listed = (await server.agents()).find((a) => a.id.path === '/spire/agent/k8s_csr/test/node-a');
      assert.ok(listed, 'spire-server agent list shows the agent');
      assert.equal(idOf(listed), `spiffe://${TRUST_DOMAIN}/spire/agent/k8s_csr/test/node-a`);
      assert.equal(listed.attestation_type, 'k8s_csr');
      assert.equal(listed.can_reattest, true);
      const sel = selectorsOf(listed);
      assert.ok(sel.includes('k8s_csr:cluster:test'));
      assert.ok(sel.includes('k8s_csr:agent_node_name:node-a'));
      assert.ok(sel.includes('k8s_csr:subject:cn:system:node:node-a'));
      assert.ok(sel.some((s) => /^k8s_csr:ca:fingerprint:[0-9a-f]{40}$/.test(s)));
      assert.ok(sel.some((s) => /^k8s_csr:serialnumber:([0-9a-f]{2})+$/.test(s)));
      // The certificate the agent presented was issued by the cluster through the CSR API.
      const csrs = await cp.kubectl([
        'get',
        'csr',
        '-o',
        'jsonpath={range .items[*]}{.spec.username} {.metadata.name}{"\\n"}{end}',
      ]);
      assert.match(csrs, /^spire-agent node-csr-node-a-/m);

      // agent_ttl is 20 s: the agent rotates at about half of it and, with can_reattest, runs
      // the whole node attestation again (our plugin reuses the still-fresh identity document).
      const first = listed.x509svid_serial_number;
      let rotated: AttestedAgent | undefined;
      for (let i = 0; i < 90 && rotated === undefined; i++) {
        await sleep(1000);
        rotated = (await server.agents()).find(
          (a) => a.id.path === listed.id.path && a.x509svid_serial_number !== first,
        );
      }
      assert.ok(rotated, 'the agent SVID rotated');
      for (let i = 0; i < 100 && attestedLines() <= attestedBefore; i++) await sleep(100);
      assert.ok(
        attestedLines() > attestedBefore,
        'the rotation went through our server plugin again (re-attestation)',
      );
      assert.deepEqual(selectorsOf(rotated), sel, 'same identity document, same selectors');
      assert.equal(await agent.healthy(), true);
      // Both plugins ran as the single executable with plugin_checksum, which SPIRE checked (it
      // warns when a plugin has none).
      for (const log of [server.log(), agent.log()]) {
        assert.match(log, /k8s-csr-(server|agent)-plugin/);
        assert.doesNotMatch(log, /Plugin checksum not configured/);
      }
    } finally {
      await agent.stop();
    }
  });

  it("interop: our server plugin (registered as x509pop) accepts SPIRE's built-in x509pop agent", async () => {
    const idDir = dir('id');
    const got = await runCli(
      [
        '-kubeconfig',
        cp.adminKubeconfig,
        '-client-cert',
        agentCred.certPath,
        '-client-key',
        agentCred.keyPath,
        '-agent-name',
        'builtin-agent',
        '-id-dir',
        idDir,
      ],
      {},
    );
    assert.equal(got.code, 0, got.stderr);
    const agent = startSpireAgent(dir('x509pop-agent'), server, {
      nodeAttestor: `  NodeAttestor "x509pop" {
    plugin_data {
      certificate_path = "${join(idDir, 'id-doc.crt')}"
      private_key_path = "${join(idDir, 'id-doc.key')}"
    }
  }`,
    });
    try {
      await agent.waitHealthy();
      const listed = (await server.agents()).find(
        (a) => a.id.path === '/spire/agent/x509pop/test/builtin-agent',
      );
      assert.ok(listed, `listed: ${JSON.stringify((await server.agents()).map(idOf))}`);
      assert.ok(selectorsOf(listed).includes('x509pop:agent_node_name:builtin-agent'));
    } finally {
      await agent.stop();
    }
  });

  it("interop: SPIRE's built-in x509pop server accepts our agent plugin (registered as x509pop)", async () => {
    const builtin = await startSpireServer(join(work, 'builtin-server'), {
      name: 'spire-server (built-in x509pop)',
      nodeAttestors: `  NodeAttestor "x509pop" {
    plugin_data { ca_bundle_path = "${cp.pki.caCertPath}" }
  }`,
    });
    const agent = startSpireAgent(dir('our-agent-x509pop'), builtin, {
      nodeAttestor: ourPlugin('agent', 'x509pop', ourAgent('interop-node', dir('id')), DIST),
    });
    try {
      await agent.waitHealthy();
      const [listed] = await builtin.agents();
      assert.ok(listed);
      assert.equal(listed.attestation_type, 'x509pop');
      assert.match(idOf(listed), /^spiffe:\/\/example\.org\/spire\/agent\/x509pop\/[0-9a-f]{40}$/);
      assert.ok(selectorsOf(listed).includes('x509pop:subject:cn:system:node:interop-node'));
    } finally {
      await agent.stop();
      await builtin.stop();
    }
  });

  describe('refusals through real SPIRE: PermissionDenied with the reason, logged by spire-server', () => {
    const H = 3600_000;
    /** What an agent is told of any chain failure: no cluster facts before proof of possession. */
    const CHAIN = /certificate chain does not verify to the CA bundle of a cluster this server attests/;

    it('a certificate from another CA', async () => {
      const c = sc.writeCert(await createNodeClientCert(otherCa, 'intruder'), 'other-ca-leaf');
      await sc.expectRefused(
        sc.rogue({ ...c, cluster: 'test' }),
        CHAIN,
        /does not verify to the CA bundle of cluster test.*unknown authority/,
      );
    });

    it('an expired certificate', async () => {
      const now = Date.now();
      const c = sc.writeCert(
        await createNodeClientCert(cp.pki.ca, 'expired', {
          notBefore: new Date(now - 48 * H),
          notAfter: new Date(now - 24 * H),
        }),
        'expired',
      );
      await sc.expectRefused(sc.rogue(c), CHAIN, /expired at/);
    });

    it('a certificate that is not yet valid', async () => {
      const now = Date.now();
      const c = sc.writeCert(
        await createNodeClientCert(cp.pki.ca, 'future', {
          notBefore: new Date(now + 24 * H),
          notAfter: new Date(now + 48 * H),
        }),
        'future',
      );
      await sc.expectRefused(sc.rogue(c), CHAIN, /not yet valid/);
    });

    it('a certificate without the client-auth EKU', async () => {
      const c = sc.writeCert(
        await createNodeClientCert(cp.pki.ca, 'server-only', { extKeyUsage: [EKU.serverAuth] }),
        'no-client-auth',
      );
      await sc.expectRefused(
        sc.rogue(c),
        /extended key usage is \[serverAuth\]; it must be exactly \[clientAuth\]/,
      );
    });

    it('O other than system:nodes', async () => {
      const c = sc.writeCert(
        await createCert({
          subject: [{ O: ['system:masters'] }, { CN: ['system:node:sneaky'] }],
          issuer: cp.pki.ca,
          ca: false,
          keyUsage: KU.digitalSignature,
          extKeyUsage: [EKU.clientAuth],
        }),
        'wrong-org',
      );
      await sc.expectRefused(sc.rogue(c), /subject O is \\?"system:masters\\?"; it must be system:nodes/);
    });

    it('a CN whose node name is not valid (/ and ..)', async () => {
      for (const bad of ['a/b', '..']) {
        const c = sc.writeCert(
          await createNodeClientCert(cp.pki.ca, bad),
          `bad-cn-${bad === '..' ? 'dots' : 'slash'}`,
        );
        await sc.expectRefused(sc.rogue(c), /does not name a valid node/);
      }
    });

    it('a challenge signed with a different key', async () => {
      const c = sc.writeCert(await createNodeClientCert(cp.pki.ca, 'wrong-key'), 'wrong-key');
      const other = await generateTestKey('ecdsa-p256');
      const otherKey = join(work, 'unrelated.key');
      writeFileSync(otherKey, other.privateKeyPem, { mode: 0o600 });
      await sc.expectRefused(
        sc.rogue({ cert: c.cert, key: otherKey }),
        /signature over the challenge does not verify/,
      );
    });

    it('a replayed challenge response', async () => {
      const c = sc.writeCert(await createNodeClientCert(cp.pki.ca, 'replayer'), 'replayer');
      const replay = join(work, 'recorded-response.json');
      // First a genuine attestation, whose response the rogue plugin records…
      const honest = startSpireAgent(dir('recorder'), server, { nodeAttestor: sc.rogue({ ...c, replay }) });
      await honest.waitHealthy();
      await honest.stop();
      // …then a new attestation that answers the new nonce with the old response.
      await sc.expectRefused(sc.rogue({ ...c, replay }), /signature over the challenge does not verify/);
    });

    it("the agent of cluster test presenting to cluster other's CA", async () => {
      const c = sc.writeCert(await createNodeClientCert(cp.pki.ca, 'cross-cluster'), 'cross-cluster');
      await sc.expectRefused(
        sc.rogue({ ...c, cluster: 'other' }),
        CHAIN,
        /does not verify to the CA bundle of cluster other/,
      );
    });

    it('good agents still attest afterwards', async () => {
      const a = await sc.expectAttests(
        sc.ours(ourAgent('after-refusals', dir('id'))),
        '/spire/agent/k8s_csr/test/after-refusals',
      );
      assert.equal(a.banned, false);
    });
  });
});

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
import { build } from 'esbuild';
import { REPO_ROOT } from '../harness/bins.js';
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

const DIST = join(REPO_ROOT, 'dist');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const idOf = (a: AttestedAgent): string => `spiffe://${a.id.trust_domain}${a.id.path}`;
const selectorsOf = (a: AttestedAgent): string[] => a.selectors.map((s) => `${s.type}:${s.value}`).sort();

describe('k8s_csr with real SPIRE on a real control plane', () => {
  let cp: ControlPlane;
  let work: string;
  let server: SpireServer;
  let otherCa: TestCert;
  let rogueBundle: string;
  let agentCred: { certPath: string; keyPath: string };
  let n = 0;
  const dir = (what: string): string => {
    n += 1;
    return join(work, `${what}-${String(n)}`);
  };

  /** Our agent plugin's plugin_data for this control plane. */
  const agentData = (node: string, idDir: string, cluster = 'test'): string =>
    [
      `cluster = "${cluster}"`,
      `kubeconfig_path = "${cp.adminKubeconfig}"`,
      `ca_cert_path = "${cp.pki.caCertPath}"`,
      `client_cert_path = "${agentCred.certPath}"`,
      `client_key_path = "${agentCred.keyPath}"`,
      `agent_name = "${node}"`,
      `identity_dir = "${idDir}"`,
    ].join('\n');

  const writeCert = (c: TestCert, name: string): { cert: string; key: string } => {
    const cert = join(work, `${name}.crt`);
    const key = join(work, `${name}.key`);
    writeFileSync(cert, c.pem);
    writeFileSync(key, c.key.privateKeyPem, { mode: 0o600 });
    return { cert, key };
  };

  const rogue = (o: { cert: string; key: string; cluster?: string; replay?: string }): string =>
    `  NodeAttestor "k8s_csr" {
    plugin_cmd = "${rogueBundle}"
    plugin_data {
      certificate_path = "${o.cert}"
      private_key_path = "${o.key}"
      ${o.cluster !== undefined ? `cluster = "${o.cluster}"` : ''}
      ${o.replay !== undefined ? `replay_file = "${o.replay}"` : ''}
    }
  }`;

  /** Runs an agent that must be refused: it exits (PermissionDenied stops spire-agent at once). */
  const expectRefused = async (nodeAttestor: string, reason: RegExp): Promise<void> => {
    const serverLogBefore = server.log().length;
    const agent = startSpireAgent(dir('refused'), server, { nodeAttestor });
    const exit = await Promise.race([agent.process.exited, sleep(30_000).then(() => undefined)]);
    if (exit === undefined) {
      await agent.stop();
      assert.fail(`spire-agent was not refused within 30 s:\n${agent.process.tail(15)}`);
    }
    assert.notEqual(exit.code, 0);
    const agentLog = agent.log();
    const refusal =
      /level=error msg="Agent crashed" error="failed to receive attestation response: rpc error: code = (\w+) desc = (.*)"$/m.exec(
        agentLog,
      );
    assert.ok(refusal, `spire-agent reported no refusal:\n${agent.process.tail(8)}`);
    assert.equal(refusal[1], 'PermissionDenied', refusal[2]);
    assert.ok(reason.test(refusal[2] ?? ''), `reason ${String(reason)} not in: ${refusal[2] ?? ''}`);
    const serverLog = server.log().slice(serverLogBefore);
    assert.ok(reason.test(serverLog), `spire-server did not log ${String(reason)}`);
  };

  /** A good agent attests and gets its SVID: the server keeps serving after refusals. */
  const expectAttests = async (node: string): Promise<AttestedAgent> => {
    const agent = startSpireAgent(dir('good'), server, {
      nodeAttestor: ourPlugin('agent', 'k8s_csr', agentData(node, dir('id')), DIST),
    });
    try {
      await agent.waitHealthy();
      const found = (await server.agents()).find((a) => a.id.path === `/spire/agent/k8s_csr/test/${node}`);
      assert.ok(found, `agent ${node} is listed`);
      return found;
    } finally {
      await agent.stop();
    }
  };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'na-spire-'));
    cp = await startControlPlane();
    await cp.kubectl(['apply', '-f', join(REPO_ROOT, 'k8s-configs')]);
    agentCred = await cp.mintUser('spire-agent');
    await cp.waitForAccess('spire-agent', {
      group: 'certificates.k8s.io',
      resource: 'certificatesigningrequests',
      subresource: 'nodeclient',
      verb: 'create',
    });
    otherCa = await createCa('CN=another-cluster-ca');
    const otherCaPath = join(work, 'other-ca.crt');
    writeFileSync(otherCaPath, otherCa.pem);
    rogueBundle = join(work, 'rogue-agent-plugin.mjs');
    await build({
      entryPoints: [join(REPO_ROOT, 'test/support/rogue-agent-plugin.ts')],
      outfile: rogueBundle,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      banner: {
        js: "#!/usr/bin/env node\nimport { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      logLevel: 'warning',
    });
    const { chmodSync } = await import('node:fs');
    chmodSync(rogueBundle, 0o755);
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
  });

  after(async () => {
    await server.stop();
    await cp.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('attests an agent whose certificate came through the CSR API, with its ID and selectors, and re-attests on rotation', async () => {
    const idDir = dir('id');
    const agent: SpireAgent = startSpireAgent(dir('agent'), server, {
      nodeAttestor: ourPlugin('agent', 'k8s_csr', agentData('node-a', idDir), DIST),
    });
    try {
      await agent.waitHealthy();
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
      const attestedBefore = (server.log().match(/attested node.*node-a|node-a.*attested node/g) ?? [])
        .length;
      let rotated: AttestedAgent | undefined;
      for (let i = 0; i < 90 && rotated === undefined; i++) {
        await sleep(1000);
        rotated = (await server.agents()).find(
          (a) => a.id.path === listed.id.path && a.x509svid_serial_number !== first,
        );
      }
      assert.ok(rotated, 'the agent SVID rotated');
      const attestedAfter = (server.log().match(/attested node.*node-a|node-a.*attested node/g) ?? []).length;
      assert.ok(
        attestedAfter > attestedBefore,
        'the rotation went through our server plugin again (re-attestation)',
      );
      assert.deepEqual(selectorsOf(rotated), sel, 'same identity document, same selectors');
      assert.equal(await agent.healthy(), true);
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
      nodeAttestor: ourPlugin('agent', 'x509pop', agentData('interop-node', dir('id')), DIST),
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

    it('a certificate from another CA', async () => {
      const c = writeCert(await createNodeClientCert(otherCa, 'intruder'), 'other-ca-leaf');
      await expectRefused(
        rogue({ ...c, cluster: 'test' }),
        /does not verify to the CA bundle of cluster test.*unknown authority/,
      );
    });

    it('an expired certificate', async () => {
      const now = Date.now();
      const c = writeCert(
        await createNodeClientCert(cp.pki.ca, 'expired', {
          notBefore: new Date(now - 48 * H),
          notAfter: new Date(now - 24 * H),
        }),
        'expired',
      );
      await expectRefused(rogue(c), /expired at/);
    });

    it('a certificate that is not yet valid', async () => {
      const now = Date.now();
      const c = writeCert(
        await createNodeClientCert(cp.pki.ca, 'future', {
          notBefore: new Date(now + 24 * H),
          notAfter: new Date(now + 48 * H),
        }),
        'future',
      );
      await expectRefused(rogue(c), /not yet valid/);
    });

    it('a certificate without the client-auth EKU', async () => {
      const c = writeCert(
        await createNodeClientCert(cp.pki.ca, 'server-only', { extKeyUsage: [EKU.serverAuth] }),
        'no-client-auth',
      );
      await expectRefused(
        rogue(c),
        /extended key usage is \[serverAuth\]; it must be exactly \[clientAuth\]/,
      );
    });

    it('O other than system:nodes', async () => {
      const c = writeCert(
        await createCert({
          subject: [{ O: ['system:masters'] }, { CN: ['system:node:sneaky'] }],
          issuer: cp.pki.ca,
          ca: false,
          keyUsage: KU.digitalSignature,
          extKeyUsage: [EKU.clientAuth],
        }),
        'wrong-org',
      );
      await expectRefused(rogue(c), /subject O is \\?"system:masters\\?"; it must be system:nodes/);
    });

    it('a CN whose node name is not valid (/ and ..)', async () => {
      for (const bad of ['a/b', '..']) {
        const c = writeCert(await createNodeClientCert(cp.pki.ca, bad), `bad-cn-${String(n)}`);
        await expectRefused(rogue(c), /does not name a valid node/);
      }
    });

    it('a challenge signed with a different key', async () => {
      const c = writeCert(await createNodeClientCert(cp.pki.ca, 'wrong-key'), 'wrong-key');
      const other = await generateTestKey('ecdsa-p256');
      const otherKey = join(work, 'unrelated.key');
      writeFileSync(otherKey, other.privateKeyPem, { mode: 0o600 });
      await expectRefused(
        rogue({ cert: c.cert, key: otherKey }),
        /signature over the challenge does not verify/,
      );
    });

    it('a replayed challenge response', async () => {
      const c = writeCert(await createNodeClientCert(cp.pki.ca, 'replayer'), 'replayer');
      const replay = join(work, 'recorded-response.json');
      // First a genuine attestation, whose response the rogue plugin records…
      const honest = startSpireAgent(dir('recorder'), server, { nodeAttestor: rogue({ ...c, replay }) });
      await honest.waitHealthy();
      await honest.stop();
      // …then a new attestation that answers the new nonce with the old response.
      await expectRefused(rogue({ ...c, replay }), /signature over the challenge does not verify/);
    });

    it("the agent of cluster test presenting to cluster other's CA", async () => {
      const c = writeCert(await createNodeClientCert(cp.pki.ca, 'cross-cluster'), 'cross-cluster');
      await expectRefused(
        rogue({ ...c, cluster: 'other' }),
        /does not verify to the CA bundle of cluster other/,
      );
    });

    it('good agents still attest afterwards', async () => {
      const a = await expectAttests('after-refusals');
      assert.equal(a.banned, false);
    });
  });
});

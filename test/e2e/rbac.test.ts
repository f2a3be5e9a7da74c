/**
 * What the bootstrap RBAC really allows, against a real control plane (kube-apiserver v1.37.2
 * with RBAC, kube-controller-manager approving and signing).
 *
 * The attack: RBAC cannot narrow `watch` to one CSR (the field selector is the client's choice),
 * and a watch without a resourceVersion starts by replaying every object. So the bootstrap user
 * with k8s-configs/csr-create-role.yml (create, get, watch), or an agent pod's token with
 * k8s-configs/approver/30-agent-rbac.yml, opens one watch on the whole CSR collection and reads
 * another node's CSR: its issued certificate, its requester and its spec.extra (pod, node, UIDs).
 *
 * The narrow roles (k8s-configs/narrow/, k8s-configs/approver/narrow/: create + get) refuse that
 * watch with 403, `get` by exact name still works (what docs/security.md admits), and
 * node-attestor still obtains its identity: with -wait=poll without ever watching, and with the
 * default (watch) by falling back to polling after one refused watch; and so does a real
 * spire-agent (v1.13.3) with the k8s_csr agent plugin, with wait = "poll" and with the default.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAttestorError } from '../../src/errors.js';
import { resolveKubeAccess, type KubeAccess } from '../../src/kube/access.js';
import { CSR_API_PATH, getCsr, parseCsrObject, type CsrObject } from '../../src/kube/csr-api.js';
import { createKubeClient } from '../../src/kube/http.js';
import { decodeIssuedChain } from '../../src/kube/wait-for-certificate.js';
import { REPO_ROOT } from '../harness/bins.js';
import type { UserCredential } from '../harness/cluster-pki.js';
import { NODE_CLIENT_CREATE, startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import { ourPlugin, startSpireAgent, startSpireServer, type SpireServer } from '../harness/spire.js';
import {
  AGENT_SA,
  AGENT_USER,
  MANIFESTS,
  createCsrAs,
  createNode,
  createPod,
  mintToken,
  nodeCsrPem,
  waitForDecision,
  writeToken,
} from './support/approver-cluster.js';
import { identityFiles, runCli } from './support/cli.js';
import { DIST, agentData } from './support/spire-scenario.js';
import { waitForNoAccess } from './support/rbac.js';

const CONFIGS = join(REPO_ROOT, 'k8s-configs');
const CSR_ATTRS = { group: 'certificates.k8s.io', resource: 'certificatesigningrequests' };
const EXTRA = 'authentication.kubernetes.io/';
const VICTIM_NODE = 'victim-node';
const VICTIM_POD = 'victim-agent';

/**
 * The attack: one watch on the CSR collection, no field selector, no resourceVersion, read until
 * the API server has replayed the CSR named `target`. Rejects with the API server's answer when
 * the watch is refused.
 */
async function replayUntil(access: KubeAccess, target: string): Promise<CsrObject> {
  const kube = createKubeClient(access);
  try {
    for await (const ev of kube.watch(CSR_API_PATH, { timeoutSeconds: '30' })) {
      if (ev.type !== 'ADDED') continue;
      const csr = parseCsrObject(ev.object);
      if (csr.metadata.name === target) return csr;
    }
    throw new Error(`the watch ended without replaying ${target}`);
  } finally {
    kube.close();
  }
}

/** The API server's answer to a list of all CSRs: the status code. */
async function listStatus(access: KubeAccess): Promise<number | undefined> {
  const kube = createKubeClient(access);
  try {
    await kube.requestJson('GET', CSR_API_PATH);
    return 200;
  } catch (err) {
    assert.ok(isAttestorError(err));
    return typeof err.details.status === 'number' ? err.details.status : undefined;
  } finally {
    kube.close();
  }
}

const forbiddenWatch = (err: unknown): boolean =>
  isAttestorError(err, 'ERR_KUBE_FORBIDDEN') &&
  err.details.status === 403 &&
  err.message.includes('cannot watch resource "certificatesigningrequests"');

describe('bootstrap RBAC on a real control plane: what a watch grant reveals, and the narrow roles', () => {
  let cp: ControlPlane;
  let work: string;
  let bootstrap: UserCredential;
  let bootstrapAccess: KubeAccess;
  let podTokenAccess: KubeAccess;
  let victimCsr: string;

  const cliAuth = (): string[] => [
    '-server',
    cp.server,
    '-ca-cert',
    cp.pki.caCertPath,
    '-client-cert',
    bootstrap.certPath,
    '-client-key',
    bootstrap.keyPath,
  ];

  before(async () => {
    cp = await startControlPlane();
    work = mkdtempSync(join(tmpdir(), 'na-rbac-e2e-'));
    // The tutorial's RBAC exactly as docs/tutorial.md creates it, and its bootstrap user.
    await cp.kubectl([
      'create',
      ...['csr-create-role.yml', 'csr-create-rolebinding.yml', 'csr-autoapprove-rolebinding.yml'].flatMap(
        (f) => ['-f', join(CONFIGS, f)],
      ),
    ]);
    bootstrap = await cp.mintUser('spire-agent');
    await cp.waitForAccess('spire-agent', { ...CSR_ATTRS, verb: 'watch' });
    await cp.waitForAccess('spire-agent', NODE_CLIENT_CREATE);
    bootstrapAccess = await resolveKubeAccess({
      server: cp.server,
      caCert: cp.pki.caCertPath,
      clientCert: bootstrap.certPath,
      clientKey: bootstrap.keyPath,
      env: {},
      homeDir: work,
    });

    // The node-bound mode's agent service account (its role grants watch too), and the victim:
    // a node whose agent pod requested its certificate with its pod-bound token, which an admin
    // approved and kube-controller-manager signed.
    await cp.kubectl([
      'apply',
      '-f',
      join(MANIFESTS, '00-namespace.yml'),
      '-f',
      join(MANIFESTS, '30-agent-rbac.yml'),
    ]);
    await cp.waitForAccess(AGENT_USER, { ...CSR_ATTRS, verb: 'watch' });
    await createNode(cp, VICTIM_NODE);
    const victimPodUid = await createPod(cp, VICTIM_POD, VICTIM_NODE);
    const victimToken = await mintToken(cp, AGENT_SA, { kind: 'Pod', name: VICTIM_POD, uid: victimPodUid });
    const created = await createCsrAs(
      cp,
      victimToken,
      await nodeCsrPem(VICTIM_NODE),
      `node-csr-${VICTIM_NODE}-`,
    );
    victimCsr = created.metadata.name;
    await cp.kubectl(['certificate', 'approve', victimCsr]);
    await waitForDecision(cp, victimCsr, { signed: true });

    // Another node's agent pod: its own pod-bound token, the attacker in the node-bound mode.
    await createNode(cp, 'other-node');
    const otherPodUid = await createPod(cp, 'other-agent', 'other-node');
    const otherToken = await mintToken(cp, AGENT_SA, { kind: 'Pod', name: 'other-agent', uid: otherPodUid });
    podTokenAccess = await resolveKubeAccess({
      server: cp.server,
      caCert: cp.pki.caCertPath,
      tokenFile: writeToken(work, 'other-agent', otherToken),
      env: {},
      homeDir: work,
    });
  });

  after(async () => {
    await cp.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("csr-create-role.yml (create, get, watch): one watch without resourceVersion replays another node's certificate, requester and extra", async () => {
    // "No list" holds literally...
    assert.equal(await listStatus(bootstrapAccess), 403);
    // ...but the watch is a list in all but name.
    const seen = await replayUntil(bootstrapAccess, victimCsr);
    assert.equal(seen.spec.username, AGENT_USER);
    const extra = seen.spec.extra ?? {};
    assert.deepEqual(extra[`${EXTRA}pod-name`], [VICTIM_POD]);
    assert.deepEqual(extra[`${EXTRA}node-name`], [VICTIM_NODE]);
    assert.equal(extra[`${EXTRA}node-uid`]?.length, 1);
    const leaf = new X509Certificate(decodeIssuedChain(seen));
    assert.match(leaf.subject, new RegExp(`CN=system:node:${VICTIM_NODE}`));
    assert.ok(leaf.verify(new X509Certificate(cp.pki.ca.pem).publicKey), 'the cluster CA signed it');
  });

  it("approver/30-agent-rbac.yml: another node's agent pod token replays the victim's CSR the same way", async () => {
    const seen = await replayUntil(podTokenAccess, victimCsr);
    assert.deepEqual(seen.spec.extra?.[`${EXTRA}pod-name`], [VICTIM_POD]);
    assert.ok((seen.status.certificate ?? '') !== '');
  });

  it('narrow/csr-create-role.yml applied over it: the same watch is 403 Forbidden; get by exact name still reads', async () => {
    await cp.kubectl(['apply', '-f', join(CONFIGS, 'narrow', 'csr-create-role.yml')]);
    await waitForNoAccess(cp, 'spire-agent', { ...CSR_ATTRS, verb: 'watch' });
    await assert.rejects(replayUntil(bootstrapAccess, victimCsr), forbiddenWatch);
    assert.equal(await listStatus(bootstrapAccess), 403);
    // What remains (docs/security.md): a name known or guessed is readable.
    const kube = createKubeClient(bootstrapAccess);
    try {
      assert.equal((await getCsr(kube, victimCsr)).spec.username, AGENT_USER);
    } finally {
      kube.close();
    }
  });

  it('with the narrow role, node-attestor -wait=poll obtains an identity without ever watching', async () => {
    const polledDir = join(work, 'id-poll');
    const polled = await runCli([
      ...cliAuth(),
      '-agent-name',
      'narrow-poll',
      '-id-dir',
      polledDir,
      '-wait',
      'poll',
      '-log-level',
      'debug',
    ]);
    assert.equal(polled.code, 0, polled.stderr);
    assert.match(polled.stdout, /^issued an identity for node narrow-poll \(CSR node-csr-narrow-poll-/);
    assert.deepEqual(identityFiles(polledDir), ['id-doc.crt', 'id-doc.key']);
    // The transport logs every request: reads of the CSR by name, not one watch.
    assert.match(polled.stderr, /kubernetes request.*GET.*certificatesigningrequests\/node-csr-narrow-poll-/);
    assert.doesNotMatch(polled.stderr, /kubernetes watch/);
    assert.doesNotMatch(polled.stderr, /HTTP 403|Forbidden/);
  });

  it('with the narrow role, node-attestor with the default -wait=watch falls back to polling after one refused watch', async () => {
    const fallbackDir = join(work, 'id-fallback');
    const fallback = await runCli([...cliAuth(), '-agent-name', 'narrow-default', '-id-dir', fallbackDir]);
    assert.equal(fallback.code, 0, fallback.stderr);
    assert.deepEqual(identityFiles(fallbackDir), ['id-doc.crt', 'id-doc.key']);
    assert.equal(fallback.stderr.match(/refused to watch the CSR \(HTTP 403\)/g)?.length, 1, fallback.stderr);
  });

  it('with the narrow role, a real spire-agent attests through the k8s_csr plugin: wait = "poll" never watches; the default falls back', async () => {
    const server: SpireServer = await startSpireServer(join(work, 'spire-server'), {
      nodeAttestors: ourPlugin(
        'server',
        'k8s_csr',
        `clusters = { "test" = { ca_bundle_path = "${cp.pki.caCertPath}" } }`,
        DIST,
      ),
    });
    try {
      for (const [node, lines] of [
        ['spire-poll', ['wait = "poll"']],
        ['spire-default', []],
      ] as const) {
        const dir = join(work, node);
        const agent = startSpireAgent(dir, server, {
          nodeAttestor: ourPlugin(
            'agent',
            'k8s_csr',
            agentData(cp, bootstrap, node, join(dir, 'id'), { lines }),
            DIST,
          ),
        });
        try {
          await agent.waitHealthy();
          const listed = await server.agents();
          assert.ok(
            listed.some((a) => a.id.path === `/spire/agent/k8s_csr/test/${node}`),
            JSON.stringify(listed.map((a) => a.id.path)),
          );
          // The plugin logs each request at debug level, which spire-agent (DEBUG) passes on.
          const log = agent.log();
          assert.match(log, new RegExp(`kubernetes request.*certificatesigningrequests/node-csr-${node}-`));
          const refused = log.match(/refused to watch the CSR \(HTTP 403\)/g)?.length ?? 0;
          if (lines.length > 0) {
            assert.doesNotMatch(log, /kubernetes watch/);
            assert.equal(refused, 0);
          } else {
            assert.equal(refused, 1, log);
          }
        } finally {
          await agent.stop();
        }
      }
    } finally {
      await server.stop();
    }
  });

  it("approver/narrow/30-agent-rbac.yml applied after the approver manifests: the agent pod token's watch is 403", async () => {
    await cp.kubectl(['apply', '-f', join(MANIFESTS, 'narrow')]);
    await waitForNoAccess(cp, AGENT_USER, { ...CSR_ATTRS, verb: 'watch' });
    await cp.waitForAccess(AGENT_USER, { ...CSR_ATTRS, verb: 'create' });
    await cp.waitForAccess(AGENT_USER, { ...CSR_ATTRS, verb: 'get' });
    await assert.rejects(replayUntil(podTokenAccess, victimCsr), forbiddenWatch);
  });
});

/**
 * Finding: Node lookups ran before the proof of possession, and refusals told strangers too much.
 * Anyone with a node's certificate (public: it travels in every payload) and a garbage response
 * made the plugin GET the Node and learnt whether it exists, whether it is being deleted and, with
 * require_node_address, every address it has; an unnamed-cluster failure listed every configured
 * cluster. SPIRE relays plugin messages to the agent verbatim.
 *
 * Now the signature is checked before any lookup, and a caller who has not proved possession is
 * told which check failed and nothing about the clusters; the details are in the plugin's log.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { answerChallenge, encodePayload } from '../../../../../src/attestation/agent.js';
import { AttestorError } from '../../../../../src/errors.js';
import { silentLogger } from '../../../../../src/log/logger.js';
import { createK8sCsrServer } from '../../../../../src/spire/k8s-csr/server/k8s-csr-server.js';
import { parseSpireVersion } from '../../../../../src/spire/k8s-csr/server/host-version.js';
import { forUnprovenCaller } from '../../../../../src/spire/k8s-csr/server/unproven-caller.js';
import { startFakeApiServer, type FakeApiServer } from '../../../../support/fake-apiserver.js';
import type { HclogLine } from '../../../../support/fake-spire-host.js';
import { startInProcess, type InProcessPlugin } from '../../../../support/in-process-plugin.js';
import {
  createCa,
  createNodeClientCert,
  generateTestKey,
  type TestCert,
  type TestKey,
} from '../../../../support/pki.js';

const TD = 'example.org';
const ADDRESS = '10.9.9.9';

describe('refusals before proof of possession (server plugin with verify_node)', () => {
  let api: FakeApiServer;
  let dir: string;
  let ca: TestCert;
  let otherCa: TestCert;
  let wrongKey: TestKey;
  let plugin: InProcessPlugin;

  before(async () => {
    api = await startFakeApiServer();
    dir = mkdtempSync(join(tmpdir(), 'na-unproven-'));
    [ca, otherCa] = await Promise.all([createCa('CN=cluster-a'), createCa('CN=cluster-b')]);
    wrongKey = await generateTestKey('ecdsa-p256');
    writeFileSync(join(dir, 'a.crt'), ca.pem);
    writeFileSync(join(dir, 'b.crt'), otherCa.pem);
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeconfig({ cert: await api.issueClientCert('spire-server') }));
    api.setNode({
      metadata: { name: 'real', uid: 'uid-real' },
      status: { addresses: [{ type: 'InternalIP', address: ADDRESS }] },
    });
    api.setNode({ metadata: { name: 'going', uid: 'uid-going', deletionTimestamp: '2026-01-01T00:00:00Z' } });
    plugin = await startInProcess({
      side: 'server',
      attestor: createK8sCsrServer(silentLogger, {
        spireVersion: () => Promise.resolve(parseSpireVersion('1.15.2')),
      }),
    });
    await plugin.host.load({
      trustDomain: TD,
      hcl: [
        `clusters "a" {\n  ca_bundle_path = "${join(dir, 'a.crt')}"\n  verify_node = true`,
        `  kubeconfig_path = "${kubeconfig}"\n  require_node_address = true\n}`,
        `clusters "b" {\n  ca_bundle_path = "${join(dir, 'b.crt')}"\n}`,
      ].join('\n'),
    });
  });
  after(async () => {
    await plugin.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const nodeGets = (): number => api.requests.filter((r) => r.path.startsWith('/api/v1/nodes')).length;

  /**
   * A node of cluster a (its CA signed the certificate) attests as `node`, naming `cluster`,
   * signing with its own key or another; resolves with the refusal.
   */
  const refusal = async (node: string, key: 'own' | 'wrong', cluster = 'a'): Promise<ServiceError> => {
    const leaf = await createNodeClientCert(ca, node);
    try {
      await plugin.host.attest(
        encodePayload({ certificates: [leaf.der], cluster }),
        (c) => answerChallenge(c, key === 'own' ? leaf.key.privateKey : wrongKey.privateKey),
        { 'x-forwarded-client-ip': '192.0.2.1' },
      );
    } catch (err) {
      return err as ServiceError;
    }
    return assert.fail(`${node} attested`);
  };

  /**
   * The plugin's "Attestation refused" line with `field` matching. The host layer logs it before
   * it ends the call, so it is there once the caller has the refusal.
   */
  const refusedLine = (field: string, pattern: RegExp): HclogLine => {
    const line = plugin
      .logs()
      .find((l) => l['@message'] === 'Attestation refused' && pattern.test(String(l[field])));
    assert.ok(line, `no refusal logged with ${field} matching ${String(pattern)}`);
    return line;
  };

  it('a wrong signature makes no Node lookup, and the message is the same for a Node that exists, is missing or is being deleted', async () => {
    const before = nodeGets();
    const messages = new Set<string>();
    for (const node of ['real', 'ghost', 'going']) {
      const e = await refusal(node, 'wrong');
      assert.equal(e.code, status.PERMISSION_DENIED, `${status[e.code]}: ${e.details}`);
      messages.add(e.details);
      for (const fact of [node, 'exist', 'delet', ADDRESS, 'cluster a'])
        assert.ok(!e.details.includes(fact), `${JSON.stringify(e.details)} tells ${fact}`);
    }
    assert.deepEqual(
      [...messages],
      ["ECDSA signature over the challenge does not verify with the leaf certificate's key"],
    );
    assert.equal(nodeGets(), before, 'the plugin asked the API about a caller without the key');
  });

  it('a failure to pick the cluster lists no configured cluster; the log has each one', async () => {
    // Unnamed, from a CA that is not cluster a's: before, the message listed every cluster.
    const rogueCa = await createCa('CN=rogue');
    const rogue = await createNodeClientCert(rogueCa, 'real');
    const e = await plugin.host
      .attest(encodePayload({ certificates: [rogue.der] }), (c) => answerChallenge(c, rogue.key.privateKey))
      .then(
        () => assert.fail('attested'),
        (err: unknown) => err as ServiceError,
      );
    assert.equal(e.code, status.PERMISSION_DENIED);
    assert.equal(
      e.details,
      'certificate chain does not verify to the CA bundle of a cluster this server attests',
    );
    const line = refusedLine('detail', /any configured cluster: cluster a: .*; cluster b: /);
    assert.equal(line.code, 'ERR_CHAIN');
    assert.equal(line.reason, 'unknown-authority');
    // A cluster that is not configured reads the same as one whose CA did not sign the chain.
    const unknown = await refusal('real', 'own', 'prod');
    const wrongCa = await refusal('real', 'own', 'b');
    assert.equal(unknown.details, wrongCa.details);
    refusedLine('detail', /names cluster prod, which this server is not configured for/);
  });

  it('after a good signature the Node is looked up; an address mismatch names none of its addresses', async () => {
    const before = nodeGets();
    const e = await refusal('real', 'own');
    assert.equal(nodeGets(), before + 1);
    assert.equal(e.code, status.PERMISSION_DENIED);
    assert.equal(
      e.details,
      'the agent connected from 192.0.2.1, which is not an address of node real in cluster a',
    );
    // The log has them.
    refusedLine('node_addresses', new RegExp(`^${ADDRESS.replaceAll('.', '\\.')}$`));
    // A key holder of a name with no Node learns that it has none (the log says the same).
    const ghost = await refusal('ghost', 'own');
    assert.equal(ghost.details, 'node ghost does not exist in cluster a');
  });
});

describe('forUnprovenCaller', () => {
  it('keeps messages about the caller own input and replaces cluster facts, keeping them for the log', () => {
    const pop = new AttestorError('ERR_POP', 'signature does not verify');
    assert.equal(forUnprovenCaller(pop), pop);
    const payload = new AttestorError('ERR_PAYLOAD', 'attestation payload is empty');
    assert.equal(forUnprovenCaller(payload), payload);
    const chain = new AttestorError('ERR_CHAIN', 'does not verify to cluster a: …; cluster b: …', {
      details: { reason: 'unknown-authority' },
    });
    const out = forUnprovenCaller(chain);
    assert.ok(out instanceof AttestorError);
    assert.equal(out.code, 'ERR_CHAIN');
    assert.equal(
      out.message,
      'certificate chain does not verify to the CA bundle of a cluster this server attests',
    );
    assert.deepEqual(out.details, { reason: 'unknown-authority', detail: chain.message });
    const cap = new AttestorError(
      'ERR_PROFILE',
      'lifetime 24h exceeds max_certificate_lifetime 2h0m0s of cluster a',
      {
        details: { cluster: 'a', check: 'max-certificate-lifetime' },
      },
    );
    assert.equal(
      (forUnprovenCaller(cap) as AttestorError).message,
      "certificate lifetime exceeds the cluster's max_certificate_lifetime",
    );
    const profile = new AttestorError(
      'ERR_PROFILE',
      'leaf certificate is not a Kubernetes node client certificate: …',
    );
    assert.equal(forUnprovenCaller(profile), profile);
    const kube = new AttestorError('ERR_KUBE_API', 'GET node n in cluster a: 500');
    assert.equal(
      (forUnprovenCaller(kube) as AttestorError).message,
      'attestation failed on the server (details are in the spire-server log)',
    );
    const bug = new TypeError('x');
    assert.equal(forUnprovenCaller(bug), bug);
  });
});

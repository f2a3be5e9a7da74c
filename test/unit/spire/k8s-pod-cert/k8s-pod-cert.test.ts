/**
 * k8s_pod_cert through the plugin host's real gRPC (in process): the agent plugin reads a
 * credential bundle written as the kubelet writes it and attests to the server plugin, which
 * checks the signer's profile, the node UID and the pod against a fake API server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { answerChallenge, buildAgentPayload, encodePayload } from '../../../../src/attestation/agent.js';
import { silentLogger } from '../../../../src/log/logger.js';
import type { PodIdentity } from '../../../../src/pod-cert/identity.js';
import { chooseSigningCa, parseCaMaterial } from '../../../../src/signer/ca.js';
import { issueCertificate, issueTimes } from '../../../../src/signer/issue.js';
import { createK8sPodCertAgent } from '../../../../src/spire/k8s-pod-cert/agent/k8s-pod-cert-agent.js';
import { createK8sPodCertServer } from '../../../../src/spire/k8s-pod-cert/server/k8s-pod-cert-server.js';
import { holdChallenge } from '../../../support/challenge-holders.js';
import { startFakeApiServer, type FakeApiServer } from '../../../support/fake-apiserver.js';
import { startInProcess, type InProcessPlugin } from '../../../support/in-process-plugin.js';
import { createCa, createNodeClientCert, generateTestKey, type TestCert } from '../../../support/pki.js';
import { TEST_POD_IDENTITY as ID } from '../../../support/pod-cert.js';

const TD = 'example.org';

describe('k8s_pod_cert agent and server plugins', () => {
  let api: FakeApiServer;
  let dir: string;
  let ca: TestCert;
  let plugin: InProcessPlugin;

  /** A certificate as node-attestor signer issues it, and its key. */
  const issue = async (id: PodIdentity = ID) => {
    const key = await generateTestKey('ecdsa-p256');
    const choice = chooseSigningCa(
      parseCaMaterial(ca.pem, ca.key.privateKeyPem, {
        certs: { label: 'c' },
        keys: { label: 'k' },
      }),
      new Date(),
      { publishDelayMs: 0, minRemainingMs: 3_600_000 },
    );
    assert.ok(choice.ok);
    const times = issueTimes(new Date(), {
      maxLifetimeMs: 3_600_000,
      requestMaxSeconds: 3600,
      caNotAfter: choice.ca.notAfter,
    });
    assert.ok(times !== undefined);
    return {
      pem: issueCertificate(choice.ca, key.publicKey.export({ type: 'spki', format: 'der' }), id, times),
      key,
    };
  };

  /** Writes a credential bundle (key, then chain) and attests through the agent plugin. */
  const attestWithAgent = async (bundle: string) => {
    const agent = createK8sPodCertAgent(silentLogger);
    await agent.configure({ trustDomain: TD, hcl: `cluster = "a"\ncredential_bundle_path = "${bundle}"` });
    const a = await agent.begin(new AbortController().signal);
    return plugin.host.attest(a.payload, (c) => a.answer(c));
  };

  const refusal = async (run: () => Promise<unknown>): Promise<ServiceError> => {
    try {
      await run();
    } catch (err) {
      return err as ServiceError;
    }
    return assert.fail('attested');
  };

  before(async () => {
    api = await startFakeApiServer();
    dir = mkdtempSync(join(tmpdir(), 'na-pod-cert-'));
    ca = await createCa('CN=signer-ca');
    writeFileSync(join(dir, 'ca.crt'), ca.pem);
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeconfig({ cert: await api.issueClientCert('spire-server') }));
    api.setNode({ metadata: { name: 'node-a', uid: 'node-uid-1', labels: { zone: 'z1', other: 'x' } } });
    api.setPod({
      metadata: { name: 'agent-a', namespace: 'spire', uid: 'pod-uid-1' },
      spec: { nodeName: 'node-a' },
    });
    plugin = await startInProcess({ side: 'server', attestor: createK8sPodCertServer(silentLogger) });
    await plugin.host.load({
      trustDomain: TD,
      hcl: [
        `clusters "a" {\n  ca_bundle_path = "${join(dir, 'ca.crt')}"\n  kubeconfig_path = "${kubeconfig}"`,
        `  verify_pod = true\n  allowed_node_label_keys = ["zone"]\n}`,
        `challenge_timeout = "300ms"`,
      ].join('\n'),
    });
  });
  after(async () => {
    await plugin.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('attests from the credential bundle: agent ID by node UID, node and pod selectors, re-attestable', async () => {
    const { pem, key } = await issue();
    const bundle = join(dir, 'bundle.pem');
    writeFileSync(bundle, key.privateKeyPem + pem);
    const r = await attestWithAgent(bundle);
    assert.equal(r.attributes.spiffeId, `spiffe://${TD}/spire/agent/k8s_pod_cert/a/node-uid-1`);
    assert.equal(r.attributes.canReattest, true);
    const values = r.attributes.selectorValues;
    for (const v of [
      'agent_node_name:node-a',
      'agent_node_uid:node-uid-1',
      'agent_node_label:zone:z1',
      'agent_pod_uid:pod-uid-1',
      'agent_pod_name:spire/agent-a',
      'agent_service_account:spire/spire-agent',
      'cluster:a',
    ])
      assert.ok(values.includes(v), `${v} in ${values.join(' ')}`);
    assert.ok(!values.some((v) => v.includes('other')), 'only allow-listed labels');
  });

  it('re-reads the bundle at each attestation (a refreshed certificate is used without a restart)', async () => {
    const bundle = join(dir, 'rotating.pem');
    const first = await issue();
    writeFileSync(bundle, first.key.privateKeyPem + first.pem);
    const agent = createK8sPodCertAgent(silentLogger);
    await agent.configure({ trustDomain: TD, hcl: `cluster = "a"\ncredential_bundle_path = "${bundle}"` });
    const serials: string[] = [];
    for (const cred of [first, await issue()]) {
      writeFileSync(bundle, cred.key.privateKeyPem + cred.pem);
      const a = await agent.begin(new AbortController().signal);
      const r = await plugin.host.attest(a.payload, (c) => a.answer(c));
      serials.push(r.attributes.selectorValues.find((v) => v.startsWith('serialnumber:')) ?? '');
    }
    assert.equal(new Set(serials).size, 2, serials.join(' '));
  });

  it('refuses a certificate of the same CA with another profile (a node client certificate)', async () => {
    const node = await createNodeClientCert(ca, 'node-a');
    const e = await refusal(() =>
      plugin.host.attest(encodePayload({ certificates: [node.der], cluster: 'a' }), (c) =>
        answerChallenge(c, node.key.privateKey),
      ),
    );
    assert.equal(e.code, status.PERMISSION_DENIED, e.details);
    assert.match(e.details, /not a node-attestor pod certificate/);
  });

  it('refuses a node re-created under the same name (new UID), and a pod that is gone', async () => {
    const { pem, key } = await issue({ ...ID, nodeUID: 'node-uid-old' });
    const bundle = join(dir, 'old.pem');
    writeFileSync(bundle, key.privateKeyPem + pem);
    const e = await refusal(() => attestWithAgent(bundle));
    assert.equal(e.code, status.PERMISSION_DENIED, e.details);
    const gone = await issue({ ...ID, podUID: 'pod-uid-old' });
    writeFileSync(bundle, gone.key.privateKeyPem + gone.pem);
    assert.equal((await refusal(() => attestWithAgent(bundle))).code, status.PERMISSION_DENIED);
  });

  it('ends a challenge left unanswered at challenge_timeout (a stolen certificate, no key)', async () => {
    const { pem } = await issue();
    const held = holdChallenge(plugin.host, buildAgentPayload(pem, 'a'));
    assert.equal(await held.first, 'challenge');
    assert.deepEqual(await held.ended, {
      code: status.DEADLINE_EXCEEDED,
      details: 'no challenge response within 300ms (challenge_timeout)',
    });
  });

  it('the agent reports a key that does not belong to the chain, naming the file', async () => {
    const { pem } = await issue();
    const other = await generateTestKey('ecdsa-p256');
    const bundle = join(dir, 'mismatch.pem');
    writeFileSync(bundle, other.privateKeyPem + pem);
    const agent = createK8sPodCertAgent(silentLogger);
    await agent.configure({ trustDomain: TD, hcl: `cluster = "a"\ncredential_bundle_path = "${bundle}"` });
    await assert.rejects(
      agent.begin(new AbortController().signal),
      /does not belong to the first certificate of credential_bundle_path/,
    );
  });
});

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { answerChallenge } from '../../../src/attestation/answer-challenge.js';
import { encodePayload } from '../../../src/attestation/payload.js';
import {
  beginAttestation,
  compileServerConfig,
  type ServerAttestationConfig,
} from '../../../src/attestation/verify-attestation.js';
import { createCa, createCert, createNodeClientCert, EKU, KU, type TestCert } from '../../support/pki.js';
import { expectError } from './helpers.js';
import { loadCertificateReader } from '../../../src/attestation/chain/certificate.js';

// These call the synchronous readers directly; the server runs them through withCertificateReader.
before(loadCertificateReader);

let caA: TestCert;
let caB: TestCert;
let leafA: TestCert;
let leafB: TestCert;

before(async () => {
  caA = await createCa('CN=cluster-a-ca');
  caB = await createCa('CN=cluster-b-ca', { keyAlg: 'rsa-2048' });
  leafA = await createNodeClientCert(caA, 'node-a', { serialHex: '01abcd' });
  leafB = await createNodeClientCert(caB, 'node-b', {
    keyAlg: 'rsa-2048',
    keyUsage: KU.digitalSignature | KU.keyEncipherment,
  });
});

const config = (o: Partial<ServerAttestationConfig> = {}): ServerAttestationConfig => ({
  clusters: new Map([
    ['a', { caBundle: [caA.cert] }],
    ['b', { caBundle: [caB.cert] }],
  ]),
  pluginName: 'k8s_csr',
  trustDomain: 'example.org',
  ...o,
});

const payload = (leaf: TestCert, cluster?: string, intermediates: TestCert[] = []): Buffer => {
  const certificates = [leaf.der, ...intermediates.map((c) => c.der)];
  return encodePayload(cluster === undefined ? { certificates } : { certificates, cluster });
};

const sha1 = (c: TestCert): string => createHash('sha1').update(c.der).digest('hex');

describe('compileServerConfig', () => {
  it('applies the defaults', () => {
    const c = compileServerConfig(config());
    assert.equal(c.maxIntermediates, 4);
    assert.equal(c.clockSkewSeconds, 30);
    assert.equal(c.payloadLimits.maxBytes, 65536);
    assert.equal(c.template.text, '/{{plugin_name}}/{{cluster}}/{{node_name}}');
  });

  const invalid: [string, Partial<ServerAttestationConfig>, string, RegExp][] = [
    ['a bad trust domain', { trustDomain: 'Example.org' }, 'trust_domain', /lowercase/],
    ['a bad plugin name', { pluginName: 'k8s/csr' }, 'plugin_name', /is invalid/],
    ['no clusters', { clusters: new Map() }, 'clusters', /at least one cluster/],
    [
      'a bad cluster name',
      { clusters: new Map([['a/b', { caBundle: [] }]]) },
      'clusters',
      /invalid cluster name "a\/b"/,
    ],
    [
      'an empty bundle',
      { clusters: new Map([['a', { caBundle: [] }]]) },
      'clusters',
      /cluster a has an empty CA bundle/,
    ],
    ['a negative maxIntermediates', { maxIntermediates: -1 }, 'max_intermediates', /from 0 to 16/],
    ['a fractional maxIntermediates', { maxIntermediates: 1.5 }, 'max_intermediates', /from 0 to 16/],
    ['a negative skew', { clockSkewSeconds: -1 }, 'clock_skew_seconds', /from 0 to 600/],
    ['a NaN skew', { clockSkewSeconds: Number.NaN }, 'clock_skew_seconds', /from 0 to 600/],
    ['a tiny payload limit', { maxPayloadBytes: 10 }, 'max_payload_bytes', /from 1024/],
    [
      'a bad template',
      { agentPathTemplate: '/{{plugin_name}}/{{bogus}}' },
      'agent_path_template',
      /unknown variable/,
    ],
  ];
  for (const [name, o, key, message] of invalid)
    it(`refuses ${name}`, () => {
      expectError(() => compileServerConfig(config(o)), 'ERR_CONFIG', message, { key });
    });

  it('refuses a bundle certificate that is not a CA', () => {
    expectError(
      () => compileServerConfig(config({ clusters: new Map([['a', { caBundle: [leafA.cert] }]]) })),
      'ERR_CONFIG',
      /cluster a: CA bundle certificate 0 \("O=system:nodes, CN=system:node:node-a"\) is not a CA certificate/,
    );
  });
});

describe('beginAttestation + finish', () => {
  it('attests an ECDSA node of the named cluster', () => {
    const pending = beginAttestation(compileServerConfig(config()), payload(leafA, 'a'));
    assert.equal(pending.cluster, 'a');
    assert.equal(pending.nodeName, 'node-a');
    assert.equal(pending.path.length, 2);
    assert.ok(pending.notBefore < pending.notAfter);
    assert.match(pending.challenge.toString(), /^\{"rsa_signature":null,"ecdsa_signature":\{"nonce":"/);
    const result = pending.finish(answerChallenge(pending.challenge, leafA.key.privateKey));
    assert.equal(result.spiffeId, 'spiffe://example.org/spire/agent/k8s_csr/a/node-a');
    assert.equal(result.cluster, 'a');
    assert.equal(result.leaf, pending.leaf);
    assert.deepEqual(
      result.selectorValues,
      [
        'agent_node_name:node-a',
        `ca:fingerprint:${sha1(caA)}`,
        'cluster:a',
        'serialnumber:01abcd',
        'subject:cn:system:node:node-a',
      ].sort(),
    );
  });

  it('attests an RSA node, and an x509pop-style payload that names no cluster', () => {
    const pending = beginAttestation(compileServerConfig(config()), payload(leafB));
    assert.equal(pending.cluster, 'b');
    assert.match(pending.challenge.toString(), /^\{"rsa_signature":\{"nonce":/);
    const result = pending.finish(answerChallenge(pending.challenge, leafB.key.privateKey));
    assert.equal(result.spiffeId, 'spiffe://example.org/spire/agent/k8s_csr/b/node-b');
  });

  it('attests through an intermediate', async () => {
    const int = await createCa('CN=a-intermediate', { issuer: caA });
    const leaf = await createNodeClientCert(int, 'node-i');
    const pending = beginAttestation(compileServerConfig(config()), payload(leaf, 'a', [int]));
    assert.equal(pending.path.length, 3);
    const result = pending.finish(answerChallenge(pending.challenge, leaf.key.privateKey));
    assert.ok(result.selectorValues.includes(`ca:fingerprint:${sha1(int)}`));
    assert.ok(result.selectorValues.includes(`ca:fingerprint:${sha1(caA)}`));
  });

  it('takes Node facts in finish: UID in the template and selectors, labels as selectors', () => {
    const compiled = compileServerConfig(
      config({ agentPathTemplate: '/{{plugin_name}}/{{cluster}}/{{node_uid}}' }),
    );
    const pending = beginAttestation(compiled, payload(leafA, 'a'));
    const result = pending.finish(answerChallenge(pending.challenge, leafA.key.privateKey), {
      uid: '0d4c3f0e-8f7a-4c1e-b1b2-5a6f7e8d9c0b',
      labels: { 'kubernetes.io/os': 'linux' },
    });
    assert.equal(
      result.spiffeId,
      'spiffe://example.org/spire/agent/k8s_csr/a/0d4c3f0e-8f7a-4c1e-b1b2-5a6f7e8d9c0b',
    );
    assert.ok(result.selectorValues.includes('agent_node_uid:0d4c3f0e-8f7a-4c1e-b1b2-5a6f7e8d9c0b'));
    assert.ok(result.selectorValues.includes('agent_node_label:kubernetes.io/os:linux'));
  });

  it('refuses a {{node_uid}} template without Node facts, and an unusable UID', () => {
    const compiled = compileServerConfig(config({ agentPathTemplate: '/{{plugin_name}}/{{node_uid}}' }));
    const p1 = beginAttestation(compiled, payload(leafA, 'a'));
    expectError(
      () => p1.finish(answerChallenge(p1.challenge, leafA.key.privateKey)),
      'ERR_CONFIG',
      /\{\{node_uid\}\}/,
    );
    const p2 = beginAttestation(compiled, payload(leafA, 'a'));
    expectError(
      () => p2.finish(answerChallenge(p2.challenge, leafA.key.privateKey), { uid: '../x' }),
      'ERR_NODE',
      /Node UID "..\/x" is unusable/,
    );
  });

  it('uses the configured plugin name (x509pop interop) and trust domain', () => {
    const compiled = compileServerConfig(config({ pluginName: 'x509pop', trustDomain: 'td.test' }));
    const pending = beginAttestation(compiled, payload(leafA));
    assert.equal(
      pending.finish(answerChallenge(pending.challenge, leafA.key.privateKey)).spiffeId,
      'spiffe://td.test/spire/agent/x509pop/a/node-a',
    );
  });
});

describe('proof of possession through finish', () => {
  it('refuses a second answer to the same challenge', () => {
    const pending = beginAttestation(compileServerConfig(config()), payload(leafA, 'a'));
    const response = answerChallenge(pending.challenge, leafA.key.privateKey);
    pending.finish(response);
    expectError(() => pending.finish(response), 'ERR_POP', /already been answered/);
  });

  it('refuses a response replayed from another attestation', () => {
    const compiled = compileServerConfig(config());
    const first = beginAttestation(compiled, payload(leafA, 'a'));
    const response = answerChallenge(first.challenge, leafA.key.privateKey);
    first.finish(response);
    const second = beginAttestation(compiled, payload(leafA, 'a'));
    expectError(() => second.finish(response), 'ERR_POP', /does not verify/);
  });

  it('refuses a response signed by a key other than the leaf key', async () => {
    const stranger = await createNodeClientCert(caA, 'node-a');
    const pending = beginAttestation(compileServerConfig(config()), payload(leafA, 'a'));
    expectError(() => pending.finish(answerChallenge(pending.challenge, stranger.key.privateKey)), 'ERR_POP');
  });

  it('refuses a malformed response with ERR_PAYLOAD, and still burns the challenge', () => {
    const pending = beginAttestation(compileServerConfig(config()), payload(leafA, 'a'));
    expectError(() => pending.finish(Buffer.from('{"ecdsa_signature":')), 'ERR_PAYLOAD');
    expectError(
      () => pending.finish(answerChallenge(pending.challenge, leafA.key.privateKey)),
      'ERR_POP',
      /already been answered/,
    );
  });
});

describe('prove: the response, and every certificate again at the time it arrives', () => {
  it('refuses a response that arrives after a certificate of the chain expired', async () => {
    const t0 = Date.now();
    const inter = await createCa('CN=inter', { issuer: caA, notAfter: new Date(t0 + 60 * 60_000) });
    const leaf = await createNodeClientCert(inter, 'node-a', { notAfter: new Date(t0 + 2 * 3600_000) });
    const compiled = compileServerConfig(config());
    const late = beginAttestation(compiled, payload(leaf, 'a', [inter]));
    expectError(
      () =>
        late.prove(answerChallenge(late.challenge, leaf.key.privateKey), { now: new Date(t0 + 61 * 60_000) }),
      'ERR_CHAIN',
      /^certificate chain does not verify to the CA bundle of cluster a: intermediate certificate "CN=inter" expired at /,
      { reason: 'expired', cluster: 'a' },
    );
    const inTime = beginAttestation(compiled, payload(leaf, 'a', [inter]));
    const proven = inTime.prove(answerChallenge(inTime.challenge, leaf.key.privateKey), {
      now: new Date(t0 + 59 * 60_000),
    });
    assert.equal(proven.identify().spiffeId, 'spiffe://example.org/spire/agent/k8s_csr/a/node-a');
  });

  it('checks the signature before it tells who the agent is: a wrong key never reaches identify', async () => {
    const stranger = await createNodeClientCert(caA, 'node-a');
    const pending = beginAttestation(compileServerConfig(config()), payload(leafA, 'a'));
    expectError(() => pending.prove(answerChallenge(pending.challenge, stranger.key.privateKey)), 'ERR_POP');
  });
});

describe('cluster selection', () => {
  it('refuses an agent of cluster B that names cluster A', () => {
    expectError(
      () => beginAttestation(compileServerConfig(config()), payload(leafB, 'a')),
      'ERR_CHAIN',
      /^certificate chain does not verify to the CA bundle of cluster a: leaf certificate .* is signed by an unknown authority/,
      { reason: 'unknown-authority', cluster: 'a' },
    );
  });

  it('refuses a cluster the server does not know, even if another bundle would verify the chain', () => {
    const onlyB = config({ clusters: new Map([['b', { caBundle: [caB.cert] }]]) });
    expectError(
      () => beginAttestation(compileServerConfig(onlyB), payload(leafB, 'a')),
      'ERR_CHAIN',
      /names cluster a, which this server is not configured for/,
      {
        reason: 'unknown-cluster',
      },
    );
  });

  it('refuses an unnamed chain that several clusters verify', () => {
    const shared = config({
      clusters: new Map([
        ['a', { caBundle: [caA.cert] }],
        ['a2', { caBundle: [caA.cert] }],
      ]),
    });
    expectError(
      () => beginAttestation(compileServerConfig(shared), payload(leafA)),
      'ERR_CHAIN',
      /verifies to the CA bundles of several clusters \(a, a2\); the agent must name its cluster/,
      {
        reason: 'ambiguous-cluster',
      },
    );
    // Naming the cluster resolves it.
    assert.equal(beginAttestation(compileServerConfig(shared), payload(leafA, 'a2')).cluster, 'a2');
  });

  it('refuses an unnamed chain that no cluster verifies, naming each', async () => {
    const stranger = await createNodeClientCert(await createCa('CN=elsewhere'), 'n');
    expectError(
      () => beginAttestation(compileServerConfig(config()), payload(stranger)),
      'ERR_CHAIN',
      /does not verify to the CA bundle of any configured cluster: cluster a: .*unknown authority.*; cluster b: .*unknown authority/,
    );
  });

  it("reports the matching cluster's reason for an unnamed chain (expired)", async () => {
    const expired = await createNodeClientCert(caA, 'n', {
      notBefore: new Date(Date.now() - 2 * 86400_000),
      notAfter: new Date(Date.now() - 86400_000),
    });
    expectError(
      () => beginAttestation(compileServerConfig(config()), payload(expired)),
      'ERR_CHAIN',
      /CA bundle of cluster a: leaf certificate .* expired at/,
      {
        reason: 'expired',
        cluster: 'a',
      },
    );
  });

  it('honours the configured clock skew', async () => {
    const justExpired = await createNodeClientCert(caA, 'n', {
      notBefore: new Date(Date.now() - 3600_000),
      notAfter: new Date(Date.now() - 60_000),
    });
    expectError(
      () => beginAttestation(compileServerConfig(config()), payload(justExpired, 'a')),
      'ERR_CHAIN',
      /expired/,
    );
    assert.equal(
      beginAttestation(compileServerConfig(config({ clockSkewSeconds: 120 })), payload(justExpired, 'a'))
        .nodeName,
      'n',
    );
  });
});

describe('refusals before the challenge', () => {
  it('refuses a malformed payload with ERR_PAYLOAD', () => {
    const compiled = compileServerConfig(config());
    expectError(() => beginAttestation(compiled, Buffer.from('')), 'ERR_PAYLOAD');
    expectError(
      () => beginAttestation(compiled, Buffer.from('{"certificates":[]}')),
      'ERR_PAYLOAD',
      /no certificate to attest/,
    );
    expectError(
      () => beginAttestation(compiled, encodePayload({ certificates: [Buffer.from([0])] })),
      'ERR_PAYLOAD',
      /certificate 0 \(the leaf\) is not a usable X.509 certificate/,
    );
    expectError(
      () =>
        beginAttestation(compiled, encodePayload({ certificates: [leafA.der, Buffer.from([0x30, 0x00])] })),
      'ERR_PAYLOAD',
      /certificate 1 is not a usable/,
    );
  });

  it('refuses more intermediates than configured', () => {
    const compiled = compileServerConfig(config({ maxIntermediates: 0 }));
    expectError(
      () => beginAttestation(compiled, payload(leafA, 'a', [caA])),
      'ERR_PAYLOAD',
      /2 certificates; the limit is 1/,
    );
  });

  it('refuses a cluster-CA-signed certificate that is not a node client certificate', async () => {
    const admin = await createCert({
      subject: 'O=system:masters, CN=kubernetes-admin',
      issuer: caA,
      ca: false,
      keyUsage: KU.digitalSignature,
      extKeyUsage: [EKU.clientAuth],
    });
    expectError(
      () => beginAttestation(compileServerConfig(config()), payload(admin, 'a')),
      'ERR_PROFILE',
      /subject O is "system:masters"/,
    );
    const serving = await createNodeClientCert(caA, 'node-a', {
      extKeyUsage: [EKU.serverAuth],
      dnsNames: ['node-a'],
    });
    expectError(
      () => beginAttestation(compileServerConfig(config()), payload(serving, 'a')),
      'ERR_PROFILE',
      /extended key usage/,
    );
  });

  it('refuses an Ed25519 leaf: key type not allowed', async () => {
    const ed = await createNodeClientCert(caA, 'node-ed', { keyAlg: 'ed25519' });
    expectError(
      () => beginAttestation(compileServerConfig(config()), payload(ed, 'a')),
      'ERR_PROFILE',
      /key type not allowed/,
      { check: 'key-type' },
    );
  });

  it('refuses an RSA-1024 leaf in the chain check', async () => {
    const weak = await createNodeClientCert(caA, 'node-w', {
      keyAlg: 'rsa-1024',
      keyUsage: KU.digitalSignature,
    });
    expectError(
      () => beginAttestation(compileServerConfig(config()), payload(weak, 'a')),
      'ERR_CHAIN',
      /1024-bit RSA key/,
      { reason: 'key' },
    );
  });
});

/**
 * The k8s_csr server plugin as spire-server runs it: src/bin/server-plugin.ts in a child process
 * (node --import tsx), driven by the fake SPIRE host through go-plugin's launch, Init,
 * Configure, Attest streams and unload. One process serves the whole suite, so every refusal is
 * followed by a good attestation on the same process.
 */
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import {
  answerChallenge,
  buildAgentPayload,
  decodeChallenge,
  encodePayload,
} from '../../../../../src/attestation/agent.js';
import { FakeSpireHost, type HclogLine } from '../../../../support/fake-spire-host.js';
import {
  createCa,
  createCert,
  createNodeClientCert,
  generateTestKey,
  type TestCert,
} from '../../../../support/pki.js';

const SERVER_PLUGIN = fileURLToPath(new URL('../../../../../src/bin/server-plugin.ts', import.meta.url));
const TD = 'example.org';

/** Asserts a gRPC failure with `code` whose message matches `details`. */
const grpcCode =
  (code: status, details?: RegExp) =>
  (e: ServiceError): boolean => {
    assert.equal(e.code, code, `${status[e.code]}: ${e.details}`);
    if (details !== undefined) assert.match(e.details, details);
    return true;
  };

const answerWith =
  (leaf: TestCert) =>
  (challenge: Buffer): Buffer =>
    answerChallenge(challenge, leaf.key.privateKey);

const sha1 = (c: TestCert): string => createHash('sha1').update(c.der).digest('hex');

describe('k8s_csr server plugin process under a fake SPIRE host', () => {
  let host: FakeSpireHost;
  let dir: string;
  let caA: TestCert;
  let caB: TestCert;
  let rogueCa: TestCert;
  let good: TestCert;
  let bundleA: string;
  const hcl = (): string =>
    `clusters "a" {\n  ca_bundle_path = "${bundleA}"\n}\nclusters "b" {\n  ca_bundle_path = "${join(dir, 'b.crt')}"\n}`;

  /** A good agent of cluster a attests on this process. */
  const attestsGood = async (): Promise<void> => {
    const r = await host.attest(encodePayload({ certificates: [good.der], cluster: 'a' }), answerWith(good));
    assert.equal(r.attributes.spiffeId, `spiffe://${TD}/spire/agent/k8s_csr/a/node-1`);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'k8s-csr-server-plugin-'));
    // Launch first: tsx compiling the plugin is the slow part, the PKI can be made meanwhile.
    const launching = FakeSpireHost.launch({
      command: process.execPath,
      args: ['--import', 'tsx', SERVER_PLUGIN],
    });
    [caA, caB, rogueCa] = await Promise.all([
      createCa('CN=cluster-a-ca'),
      createCa('CN=cluster-b-ca'),
      createCa('CN=cluster-a-ca'), // same name as a's CA, other key
    ]);
    good = await createNodeClientCert(caA, 'node-1');
    bundleA = join(dir, 'a.crt');
    writeFileSync(bundleA, caA.pem);
    writeFileSync(join(dir, 'b.crt'), caB.pem);
    host = await launching;
  });
  after(async () => {
    await host.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Init advertises exactly the server NodeAttestor and Config services', async () => {
    host.startBroker();
    host.startStdio();
    const names = await host.init();
    assert.deepEqual(names, [
      'spire.plugin.server.nodeattestor.v1.NodeAttestor',
      'spire.service.common.config.v1.Config',
    ]);
  });

  it('refuses to attest before Configure with FailedPrecondition', async () => {
    await assert.rejects(
      host.attest(encodePayload({ certificates: [good.der], cluster: 'a' }), answerWith(good)),
      grpcCode(status.FAILED_PRECONDITION),
    );
  });

  it('refuses a bad configuration with InvalidArgument naming the key, and stays unconfigured', async () => {
    await assert.rejects(
      host.configure(TD, `clusters "a" {\n  ca_bundle_path = "${join(dir, 'missing.crt')}"\n}`),
      grpcCode(
        status.INVALID_ARGUMENT,
        /clusters\."a"\.ca_bundle_path .*missing\.crt: cannot read the file \(no such file\)$/,
      ),
    );
    await assert.rejects(
      host.configure(TD, `${hcl()}\nclock_skew = "1h"`),
      grpcCode(status.INVALID_ARGUMENT, /clock_skew: must be at most 10m0s/),
    );
    await assert.rejects(
      host.attest(encodePayload({ certificates: [good.der] }), answerWith(good)),
      grpcCode(status.FAILED_PRECONDITION),
    );
  });

  it('configures with two clusters', async () => {
    await host.configure(TD, hcl());
    const loaded = await host.waitForLog(
      (l) => l['@message'] === 'loaded cluster CA bundle' && l.cluster === 'b',
    );
    assert.equal(loaded.path, join(dir, 'b.crt'));
    assert.equal(loaded.certificates, 1);
  });

  it('attests a node end to end: agent ID, selectors, can_reattest, one x509pop challenge', async () => {
    const r = await host.attest(encodePayload({ certificates: [good.der], cluster: 'a' }), answerWith(good));
    assert.equal(r.attributes.spiffeId, 'spiffe://example.org/spire/agent/k8s_csr/a/node-1');
    assert.equal(r.attributes.canReattest, true);
    const serial = new X509Certificate(good.der).serialNumber.toLowerCase();
    assert.deepEqual(
      [...r.attributes.selectorValues].sort(),
      [
        'agent_node_name:node-1',
        `ca:fingerprint:${sha1(caA)}`,
        'cluster:a',
        `serialnumber:${serial}`,
        'subject:cn:system:node:node-1',
      ].sort(),
    );
    assert.equal(r.challenges.length, 1);
    const challenge = decodeChallenge(r.challenges[0]!);
    assert.equal(challenge.kind, 'ecdsa');
    assert.equal(challenge.nonce.length, 32);
    const line = await host.waitForLog((l) => l['@message'] === 'attested node' && l.node === 'node-1');
    assert.equal(line['@level'], 'info');
    assert.equal(line.cluster, 'a');
    assert.equal(line.spiffe_id, r.attributes.spiffeId);
  });

  it('attests the other cluster, an RSA node, and a payload without a cluster name (x509pop agents)', async () => {
    const b = await createNodeClientCert(caB, 'node-b');
    let r = await host.attest(buildAgentPayload(b.pem, 'b'), answerWith(b));
    assert.equal(r.attributes.spiffeId, 'spiffe://example.org/spire/agent/k8s_csr/b/node-b');
    assert.ok(r.attributes.selectorValues.includes('cluster:b'));

    const rsa = await createNodeClientCert(caA, 'node-rsa', { keyAlg: 'rsa-2048' });
    r = await host.attest(encodePayload({ certificates: [rsa.der], cluster: 'a' }), answerWith(rsa));
    assert.equal(r.attributes.spiffeId, 'spiffe://example.org/spire/agent/k8s_csr/a/node-rsa');
    assert.equal(decodeChallenge(r.challenges[0]!).kind, 'rsa');

    // Without "cluster" the one cluster whose CA verifies the chain is chosen.
    r = await host.attest(encodePayload({ certificates: [b.der] }), answerWith(b));
    assert.equal(r.attributes.spiffeId, 'spiffe://example.org/spire/agent/k8s_csr/b/node-b');
  });

  it('accepts an intermediate CA in the payload chain', async () => {
    const inter = await createCa('CN=cluster-a-intermediate', { issuer: caA });
    const leaf = await createNodeClientCert(inter, 'node-via-intermediate');
    const r = await host.attest(
      encodePayload({ certificates: [leaf.der, inter.der], cluster: 'a' }),
      answerWith(leaf),
    );
    assert.equal(r.attributes.spiffeId, 'spiffe://example.org/spire/agent/k8s_csr/a/node-via-intermediate');
    assert.ok(r.attributes.selectorValues.includes(`ca:fingerprint:${sha1(inter)}`));
  });

  it('refuses malformed payloads with InvalidArgument and keeps serving', async () => {
    const bad: [Buffer, RegExp][] = [
      [Buffer.from('not json'), /payload/],
      [Buffer.from('{"certificates":[]}'), /"certificates" is empty/],
      [Buffer.from('{"certificates":"abc"}'), /must be an array/],
      [Buffer.from('{"certificates":["%%%"]}'), /not standard base64/],
      [Buffer.from(`{"certificates":["${good.der.toString('base64')}"],"extra":1}`), /extra/],
      [
        Buffer.from(`{"certificates":["${good.der.toString('base64')}"],"cluster":"a/b"}`),
        /not a valid cluster/,
      ],
      [Buffer.from(JSON.stringify({ certificates: [Buffer.from('not DER').toString('base64')] })), /leaf/],
    ];
    for (const [payload, why] of bad) {
      await assert.rejects(
        host.attest(payload, () => assert.fail('no challenge expected for a malformed payload')),
        grpcCode(status.INVALID_ARGUMENT, why),
      );
      await attestsGood();
    }
  });

  it('refuses a certificate from another CA with PermissionDenied and keeps serving', async () => {
    const rogue = await createNodeClientCert(rogueCa, 'node-1');
    await assert.rejects(
      host.attest(encodePayload({ certificates: [rogue.der], cluster: 'a' }), answerWith(rogue)),
      grpcCode(status.PERMISSION_DENIED),
    );
    await attestsGood();
    // Unnamed, it verifies to no cluster at all.
    await assert.rejects(
      host.attest(encodePayload({ certificates: [rogue.der] }), answerWith(rogue)),
      grpcCode(status.PERMISSION_DENIED),
    );
    await attestsGood();
    // A node of cluster b claiming cluster a: the other cluster's CA never counts.
    const b = await createNodeClientCert(caB, 'node-b');
    await assert.rejects(
      host.attest(encodePayload({ certificates: [b.der], cluster: 'a' }), answerWith(b)),
      grpcCode(status.PERMISSION_DENIED),
    );
    // A cluster this server does not know: the caller is not told which clusters exist (the
    // same words as any chain failure); the plugin's log says why.
    await assert.rejects(
      host.attest(encodePayload({ certificates: [good.der], cluster: 'c' }), answerWith(good)),
      grpcCode(
        status.PERMISSION_DENIED,
        /^certificate chain does not verify to the CA bundle of a cluster this server attests$/,
      ),
    );
    await host.waitForLog(
      (l) =>
        l['@message'] === 'Attestation refused' &&
        String(l.detail).includes('cluster c, which this server is not configured for'),
    );
    await attestsGood();
  });

  it('refuses certificates that are not node client certificates with PermissionDenied', async () => {
    const notNode = await createCert({
      subject: 'CN=system:node:node-1',
      issuer: caA,
      ca: false,
      extKeyUsage: ['1.3.6.1.5.5.7.3.2'],
    });
    const expired = await createNodeClientCert(caA, 'node-1', {
      notBefore: new Date(Date.now() - 3 * 3600_000),
      notAfter: new Date(Date.now() - 3600_000),
    });
    for (const cert of [notNode, expired]) {
      await assert.rejects(
        host.attest(encodePayload({ certificates: [cert.der], cluster: 'a' }), answerWith(cert)),
        grpcCode(status.PERMISSION_DENIED),
      );
      await attestsGood();
    }
  });

  it('refuses a signature made with the wrong key with PermissionDenied and keeps serving', async () => {
    const otherKey = await generateTestKey('ecdsa-p256');
    await assert.rejects(
      host.attest(encodePayload({ certificates: [good.der], cluster: 'a' }), (c) =>
        answerChallenge(c, otherKey.privateKey),
      ),
      grpcCode(status.PERMISSION_DENIED, /signature/),
    );
    await attestsGood();
    // A response made for another challenge (a replay) fails the same way.
    let previous: Buffer | undefined;
    await host.attest(encodePayload({ certificates: [good.der], cluster: 'a' }), (c) => {
      previous = answerChallenge(c, good.key.privateKey);
      return previous;
    });
    assert.ok(previous);
    const replayed = previous;
    await assert.rejects(
      host.attest(encodePayload({ certificates: [good.der], cluster: 'a' }), () => replayed),
      grpcCode(status.PERMISSION_DENIED),
    );
    await attestsGood();
  });

  it('refuses a malformed challenge response with InvalidArgument and keeps serving', async () => {
    await assert.rejects(
      host.attest(encodePayload({ certificates: [good.der], cluster: 'a' }), () => Buffer.from('garbage')),
      grpcCode(status.INVALID_ARGUMENT),
    );
    await attestsGood();
  });

  it('logs every refusal as a valid hclog warning with its error code', async () => {
    const refusals = (): HclogLine[] => host.logs().filter((l) => l['@message'] === 'Attestation refused');
    // stderr and the gRPC socket are separate pipes: give the last line time to arrive.
    await host.waitForLog(() => refusals().length >= 15);
    const refused = refusals();
    for (const l of refused) {
      assert.equal(l['@level'], 'warn');
      assert.match(String(l.code), /^ERR_(NOT_CONFIGURED|PAYLOAD|CHAIN|PROFILE|POP)$/);
      assert.equal(l['@module'], 'k8s_csr.server');
    }
    for (const l of host.logs()) assert.match(l['@timestamp'] ?? '', /\.\d{6}Z$/);
    assert.equal(host.stdoutAfterHandshake, '');
  });

  it('reloads the CA bundle on a second Configure: only the new CA verifies afterwards', async () => {
    const caA2 = await createCa('CN=cluster-a-ca-2');
    const fromA2 = await createNodeClientCert(caA2, 'node-2');
    writeFileSync(bundleA, caA2.pem);
    await host.configure(TD, hcl());
    const r = await host.attest(
      encodePayload({ certificates: [fromA2.der], cluster: 'a' }),
      answerWith(fromA2),
    );
    assert.equal(r.attributes.spiffeId, 'spiffe://example.org/spire/agent/k8s_csr/a/node-2');
    assert.ok(r.attributes.selectorValues.includes(`ca:fingerprint:${sha1(caA2)}`));
    await assert.rejects(
      host.attest(encodePayload({ certificates: [good.der], cluster: 'a' }), answerWith(good)),
      grpcCode(status.PERMISSION_DENIED),
    );
    // Back to the first CA for good measure.
    writeFileSync(bundleA, caA.pem);
    await host.configure(TD, hcl());
    await attestsGood();
  });

  it('unloads like SPIRE: Deinit, Shutdown, exit 0', async () => {
    const r = await host.unload();
    assert.equal(r.graceful, true, `not exited within 2 s; stderr:\n${host.stderr}`);
    assert.equal(r.code, 0);
    assert.equal(host.stdoutAfterHandshake, '');
    // Every JSON line is valid hclog (logs() throws otherwise) and nothing else reached stderr.
    assert.ok(host.logs().length > 0);
    assert.deepEqual(host.rawStderrLines(), []);
  });
});

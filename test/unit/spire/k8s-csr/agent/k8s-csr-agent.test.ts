/**
 * The k8s_csr agent plugin as spire-agent runs it: src/bin/agent-plugin.ts in a child process
 * (node --import tsx), driven by the fake SPIRE host, getting its node certificate from a fake
 * Kubernetes API server that signs CSRs with a real cluster CA. The server half of each
 * attestation is played by the test with the attestation core's own functions.
 */
import assert from 'node:assert/strict';
import { X509Certificate, randomBytes } from 'node:crypto';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { decodePayload, encodeChallenge } from '../../../../../src/attestation/agent.js';
import { createChallenge, verifyChallengeResponse } from '../../../../../src/attestation/pop.js';
import { beginAttestation, compileServerConfig } from '../../../../../src/attestation/verify-attestation.js';
import {
  startFakeApiServer,
  type ClientFiles,
  type FakeApiServer,
} from '../../../../support/fake-apiserver.js';
import { AGENT_HOST_SERVICES, FakeSpireHost, type HclogLine } from '../../../../support/fake-spire-host.js';

const AGENT_PLUGIN = fileURLToPath(new URL('../../../../../src/bin/agent-plugin.ts', import.meta.url));
const CSR_PATH = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
const TD = 'example.org';

const grpcCode =
  (code: status, details?: RegExp) =>
  (e: ServiceError): boolean => {
    assert.equal(e.code, code, `${status[e.code]}: ${e.details}`);
    if (details !== undefined) assert.match(e.details, details);
    return true;
  };

const csrPosts = (api: FakeApiServer): number =>
  api.requests.filter((r) => r.method === 'POST' && r.path === CSR_PATH).length;

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const address = srv.address();
  assert.ok(address !== null && typeof address === 'object');
  await new Promise<void>((resolve) => {
    srv.close(() => {
      resolve();
    });
  });
  return address.port;
}

interface Attested {
  readonly payload: Buffer;
  readonly leaf: X509Certificate;
  readonly cluster: string | undefined;
}

describe('k8s_csr agent plugin process under a fake SPIRE host', () => {
  let host: FakeSpireHost;
  let api: FakeApiServer;
  let files: ClientFiles;
  let dir: string;
  let n = 0;
  const fresh = (what: string): string => join(dir, `${what}-${String(++n)}`);

  const hcl = (o: {
    idDir: string;
    node?: string;
    api?: FakeApiServer;
    files?: ClientFiles;
    extra?: string[];
  }): string =>
    [
      'cluster = "test"',
      `server = "${(o.api ?? api).url}"`,
      `ca_cert_path = "${(o.files ?? files).caCert}"`,
      `client_cert_path = "${(o.files ?? files).clientCert}"`,
      `client_key_path = "${(o.files ?? files).clientKey}"`,
      `agent_name = "${o.node ?? 'node-1'}"`,
      `identity_dir = "${o.idDir}"`,
      ...(o.extra ?? []),
    ].join('\n');

  /**
   * One AidAttestation as SPIRE's agent facade runs it, with the test as the server: a challenge
   * for the leaf's key, whose response must verify.
   */
  const attest = async (): Promise<Attested> => {
    let issued: { leaf: X509Certificate; state: ReturnType<typeof createChallenge>['state'] } | undefined;
    const out = await host.aidAttestation((payload) => {
      const leafDer = decodePayload(payload).certificates[0];
      assert.ok(leafDer);
      const leaf = new X509Certificate(leafDer);
      const challenge = createChallenge(leaf.publicKey);
      issued = { leaf, state: challenge.state };
      return [challenge.bytes];
    });
    assert.ok(issued);
    assert.equal(out.responses.length, 1);
    verifyChallengeResponse(issued.state, out.responses[0]!, issued.leaf.publicKey);
    return { payload: out.payload, leaf: issued.leaf, cluster: decodePayload(out.payload).cluster };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'k8s-csr-agent-plugin-'));
    const launching = FakeSpireHost.launch({
      command: process.execPath,
      args: ['--import', 'tsx', AGENT_PLUGIN],
      // Hermetic: no kubeconfig or service account from the machine running the tests.
      env: {
        HOME: dir,
        KUBECONFIG: undefined,
        KUBERNETES_SERVICE_HOST: undefined,
        KUBERNETES_SERVICE_PORT: undefined,
      },
    });
    api = await startFakeApiServer({ autoApprove: 'approve-and-sign' });
    files = await api.writeClientFiles(join(dir, 'cred'), 'spire-agent');
    host = await launching;
  });
  after(async () => {
    await host.dispose();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Init advertises exactly the agent NodeAttestor and Config services', async () => {
    host.startBroker();
    host.startStdio();
    assert.deepEqual(await host.init(AGENT_HOST_SERVICES), [
      'spire.plugin.agent.nodeattestor.v1.NodeAttestor',
      'spire.service.common.config.v1.Config',
    ]);
  });

  it('refuses AidAttestation before Configure with FailedPrecondition', async () => {
    await assert.rejects(host.aidAttestation(), grpcCode(status.FAILED_PRECONDITION));
  });

  it('refuses a Configure whose client certificate file does not exist with InvalidArgument naming it', async () => {
    const missing = join(dir, 'no-such-client.crt');
    const bad = hcl({ idDir: fresh('id') }).replace(files.clientCert, missing);
    await assert.rejects(
      host.configure(TD, bad),
      // The file and why; the wording is the Kubernetes access layer's.
      grpcCode(status.INVALID_ARGUMENT, new RegExp(`${missing}.*no such file`)),
    );
    await assert.rejects(
      host.configure(TD, hcl({ idDir: fresh('id'), extra: ['agent_nme = "x"'] })),
      grpcCode(status.INVALID_ARGUMENT, /unknown key "agent_nme"/),
    );
    await assert.rejects(
      host.configure(TD, hcl({ idDir: fresh('id'), extra: ['wait = "list"'] })),
      grpcCode(status.INVALID_ARGUMENT, /wait: must be one of "watch", "poll", got "list"/),
    );
    // Nothing was applied.
    await assert.rejects(host.aidAttestation(), grpcCode(status.FAILED_PRECONDITION));
    assert.equal(csrPosts(api), 0);
  });

  let idDir: string;
  let first: Attested;

  it('obtains a node certificate through the CSR API, sends it as the x509pop payload and answers the challenge', async () => {
    idDir = fresh('id');
    await host.configure(TD, hcl({ idDir }));
    first = await attest();
    assert.equal(first.cluster, 'test');
    assert.deepEqual(first.leaf.subject.split('\n'), ['O=system:nodes', 'CN=system:node:node-1']);
    assert.ok(first.leaf.verify(api.clusterCa.cert.publicKey), 'signed by the cluster CA');
    assert.equal(first.leaf.ca, false);
    assert.equal(decodePayload(first.payload).certificates.length, 1);

    // Exactly one CSR, made by the spire-agent user, for the kubelet client signer.
    assert.equal(csrPosts(api), 1);
    const [name] = api.csrNames();
    assert.ok(name !== undefined);
    const csr = api.csr(name);
    assert.equal(csr?.spec.username, 'spire-agent');
    assert.equal(csr.spec.signerName, 'kubernetes.io/kube-apiserver-client-kubelet');
    assert.deepEqual(csr.spec.usages, ['digital signature', 'client auth']);
    assert.equal(csr.spec.expirationSeconds, 3600);
  });

  it('writes the identity document in identity_dir with the documented modes', () => {
    assert.equal(statSync(idDir).mode & 0o777, 0o700);
    const keyPath = join(idDir, 'id-doc.key');
    const certPath = join(idDir, 'id-doc.crt');
    assert.equal(statSync(keyPath).mode & 0o777, 0o600);
    assert.equal(statSync(certPath).mode & 0o777, 0o644);
    assert.ok(lstatSync(certPath).isSymbolicLink() || lstatSync(certPath).isFile());
    const stored = new X509Certificate(readFileSync(certPath));
    assert.equal(stored.serialNumber, first.leaf.serialNumber);
    assert.match(readFileSync(keyPath, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('reuses the stored identity on the next AidAttestation: no second CSR, and a real server accepts it', async () => {
    const config = compileServerConfig({
      clusters: new Map([['test', { caBundle: [api.clusterCa.cert] }]]),
      pluginName: 'k8s_csr',
      trustDomain: TD,
    });
    let pending: ReturnType<typeof beginAttestation> | undefined;
    const out = await host.aidAttestation((payload) => {
      pending = beginAttestation(config, payload);
      return [pending.challenge];
    });
    assert.ok(pending);
    const result = pending.finish(out.responses[0]!);
    assert.equal(result.spiffeId, 'spiffe://example.org/spire/agent/k8s_csr/test/node-1');
    assert.equal(result.leaf.serialNumber, first.leaf.serialNumber);
    assert.equal(csrPosts(api), 1, 'the fake API server saw no second CSR');
    await host.waitForLog((l) => l['@message'] === 'reusing the stored identity document');
    // And once more through the plain helper.
    assert.equal((await attest()).leaf.serialNumber, first.leaf.serialNumber);
    assert.equal(csrPosts(api), 1);
  });

  it('refuses garbage challenge bytes with InvalidArgument and keeps serving', async () => {
    for (const garbage of [
      Buffer.from('garbage'),
      Buffer.from('{"rsa_signature":null}'),
      Buffer.from('{}'),
    ]) {
      await assert.rejects(
        host.aidAttestation(() => [garbage]),
        grpcCode(status.INVALID_ARGUMENT, /challenge/),
      );
      assert.equal((await attest()).leaf.serialNumber, first.leaf.serialNumber);
    }
  });

  it('refuses a challenge for another key kind with PermissionDenied and keeps serving', async () => {
    const rsaChallenge = encodeChallenge({ kind: 'rsa', nonce: randomBytes(32) });
    await assert.rejects(
      host.aidAttestation(() => [rsaChallenge]),
      grpcCode(status.PERMISSION_DENIED, /RSA challenge but the identity key is ECDSA/),
    );
    await attest();
  });

  it('works from a kubeconfig too, with an RSA identity key', async () => {
    const user = await api.issueClientCert('spire-agent', ['spire']);
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeconfig({ cert: user }), { mode: 0o600 });
    const rsaDir = fresh('id');
    await host.configure(
      TD,
      [
        'cluster = "test"',
        `kubeconfig_path = "${kubeconfig}"`,
        'agent_name = "node-rsa"',
        'key_type = "rsa-2048"',
        `identity_dir = "${rsaDir}"`,
      ].join('\n'),
    );
    const before = csrPosts(api);
    const r = await attest();
    assert.equal(csrPosts(api), before + 1);
    assert.match(r.leaf.subject, /CN=system:node:node-rsa/);
    assert.equal(r.leaf.publicKey.asymmetricKeyType, 'rsa');
    const name = api.csrNames().find((c) => api.csr(c)?.spec.usages.includes('key encipherment'));
    assert.ok(name, 'the RSA request asks for key encipherment too');
  });

  it('ends the stream with PermissionDenied when the CSR is denied', async () => {
    const strict = await startFakeApiServer({ autoApprove: 'off' });
    const denier = setInterval(() => {
      for (const name of strict.csrNames())
        if ((strict.csr(name)?.status.conditions ?? []).length === 0)
          strict.deny(name, 'NodeNameNotAllowed', 'not on this cluster');
    }, 20);
    try {
      const strictFiles = await strict.writeClientFiles(join(dir, 'strict-cred'), 'spire-agent');
      await host.configure(TD, hcl({ idDir: fresh('id'), api: strict, files: strictFiles, node: 'node-9' }));
      await assert.rejects(host.aidAttestation(), grpcCode(status.PERMISSION_DENIED, /denied/i));
      assert.equal(strict.csrNames().length, 1);
    } finally {
      clearInterval(denier);
      await strict.close();
    }
  });

  it('ends the stream with Unavailable when the API server cannot be reached', async () => {
    const port = await closedPort();
    const text = hcl({ idDir: fresh('id'), node: 'node-8' }).replace(api.url, `https://127.0.0.1:${port}`);
    await host.configure(TD, text);
    await assert.rejects(host.aidAttestation(), grpcCode(status.UNAVAILABLE));
  });

  it('ends the stream with FailedPrecondition for a symlinked identity_dir, naming the key, before any CSR', async () => {
    const real = fresh('real');
    mkdirSync(real, { mode: 0o700 });
    const link = fresh('link');
    symlinkSync(real, link);
    await host.configure(TD, hcl({ idDir: link, node: 'node-6' }));
    const before = csrPosts(api);
    await assert.rejects(
      host.aidAttestation(),
      grpcCode(status.FAILED_PRECONDITION, /^identity directory .* is a symbolic link; .* in identity_dir$/),
    );
    assert.equal(csrPosts(api), before);
    assert.deepEqual(readdirSync(real), []);
  });

  it('with wait = "poll" gets its certificate where the role grants only create and get (no watch)', async () => {
    const narrow = await startFakeApiServer({
      autoApprove: 'approve-and-sign',
      authorize: ({ verb }) => verb === 'create' || verb === 'get',
    });
    try {
      const narrowFiles = await narrow.writeClientFiles(join(dir, 'narrow-cred'), 'spire-agent');
      await host.configure(
        TD,
        hcl({
          idDir: fresh('id'),
          api: narrow,
          files: narrowFiles,
          node: 'node-p',
          extra: ['wait = "poll"'],
        }),
      );
      const r = await attest();
      assert.match(r.leaf.subject, /CN=system:node:node-p/);
      assert.equal(narrow.requests.filter((q) => q.query.watch !== undefined).length, 0);
      assert.ok(
        narrow.requests.some((q) => q.method === 'GET' && q.path.startsWith(`${CSR_PATH}/node-csr-node-p-`)),
      );
    } finally {
      await narrow.close();
    }
  });

  it('keeps serving after all that: back on the first identity, reused', async () => {
    await host.configure(TD, hcl({ idDir }));
    const before = csrPosts(api);
    assert.equal((await attest()).leaf.serialNumber, first.leaf.serialNumber);
    assert.equal(csrPosts(api), before);
  });

  it('logs only valid hclog lines and unloads like SPIRE with exit 0', async () => {
    const failed = (): HclogLine[] => host.logs().filter((l) => l['@message'] === 'Attestation failed');
    await host.waitForLog(() => failed().length >= 7);
    const codes = new Set(failed().map((l) => String(l.code)));
    for (const code of [
      'ERR_NOT_CONFIGURED',
      'ERR_PAYLOAD',
      'ERR_POP',
      'ERR_CSR_DENIED',
      'ERR_KUBE_UNREACHABLE',
    ])
      assert.ok(codes.has(code), `no failure logged with ${code}: ${[...codes].join(', ')}`);
    const r = await host.unload();
    assert.equal(r.graceful, true, `not exited within 2 s; stderr:\n${host.stderr}`);
    assert.equal(r.code, 0);
    assert.equal(host.stdoutAfterHandshake, '');
    for (const l of host.logs()) assert.equal(l['@module'], 'k8s_csr.agent');
    assert.deepEqual(host.rawStderrLines(), []);
  });
});

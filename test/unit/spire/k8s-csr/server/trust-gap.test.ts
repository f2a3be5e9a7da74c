/**
 * The server plugin's checks beyond the certificate (the trust gap): the Node must exist and not be
 * being deleted, its UID and allow-listed labels become selectors, the agent's address can be bound
 * to the Node's, and the certificate's lifetime and age can be capped. API trouble is Unavailable,
 * a failed check PermissionDenied.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { answerChallenge, encodePayload } from '../../../../../src/attestation/agent.js';
import { isAttestorError, type ErrorCode } from '../../../../../src/errors.js';
import { resolveKubeAccess } from '../../../../../src/kube/access.js';
import { createKubeClient } from '../../../../../src/kube/http.js';
import { silentLogger } from '../../../../../src/log/logger.js';
import { checkNodeAddress, normalizeIp } from '../../../../../src/spire/k8s-csr/server/address-binding.js';
import { checkCertificateAge } from '../../../../../src/spire/k8s-csr/server/certificate-age.js';
import { loadServerConfig } from '../../../../../src/spire/k8s-csr/server/config.js';
import { atLeast, parseSpireVersion } from '../../../../../src/spire/k8s-csr/server/host-version.js';
import { createK8sCsrServer } from '../../../../../src/spire/k8s-csr/server/k8s-csr-server.js';
import {
  allowedLabels,
  lookupNode,
  type NodeFacts,
} from '../../../../../src/spire/k8s-csr/server/node-lookup.js';
import { startFakeApiServer, type FakeApiServer } from '../../../../support/fake-apiserver.js';
import { startInProcess } from '../../../../support/in-process-plugin.js';
import { createCa, createNodeClientCert, type TestCert } from '../../../../support/pki.js';

const H = 3_600_000;
const code = (c: ErrorCode) => (err: unknown) => isAttestorError(err, c);

describe('certificate lifetime and age caps', () => {
  const cert = (nb: number, na: number) => ({ notBefore: new Date(nb), notAfter: new Date(na) });
  const now = new Date(10 * H);

  it('accepts a certificate within both caps, boundaries included', () => {
    checkCertificateAge(
      cert(now.getTime() - H, now.getTime() + H),
      { maxLifetimeMs: 2 * H, maxAgeMs: H },
      'c',
      now,
    );
  });

  it('refuses a lifetime over the cap, naming both', () => {
    assert.throws(
      () => {
        checkCertificateAge(
          cert(now.getTime() - 60_000, now.getTime() + 24 * H),
          { maxLifetimeMs: 2 * H },
          'c',
          now,
        );
      },
      (e: unknown) =>
        isAttestorError(e, 'ERR_PROFILE') &&
        /lifetime 24h1m0s .* exceeds max_certificate_lifetime 2h0m0s of cluster c/.test(e.message),
    );
  });

  it('refuses a certificate issued too long ago', () => {
    assert.throws(
      () => {
        checkCertificateAge(
          cert(now.getTime() - 90 * 60_000, now.getTime() + 20 * 60_000),
          { maxAgeMs: H },
          'c',
          now,
        );
      },
      (e: unknown) =>
        isAttestorError(e, 'ERR_PROFILE') &&
        /issued 1h30m0s ago .* more than max_certificate_age 1h0m0s/.test(e.message),
    );
  });
});

describe('address binding', () => {
  const node: NodeFacts = {
    name: 'n1',
    uid: 'u1',
    labels: {},
    addresses: [
      { type: 'InternalIP', address: '10.0.0.5' },
      { type: 'Hostname', address: 'n1' },
      { type: 'ExternalIP', address: '2001:db8::5' },
    ],
  };
  const md = (v?: string): Map<string, string> =>
    new Map(v === undefined ? [] : [['x-forwarded-client-ip', v]]);

  it('accepts an address of the Node (IPv4, IPv4-mapped IPv6, IPv6)', () => {
    assert.equal(checkNodeAddress(md('10.0.0.5'), node, 'c'), '10.0.0.5');
    assert.equal(checkNodeAddress(md('::ffff:10.0.0.5'), node, 'c'), '10.0.0.5');
    assert.equal(checkNodeAddress(md('2001:DB8::5'), node, 'c'), '2001:db8::5');
    assert.equal(normalizeIp(' ::FFFF:1.2.3.4 '), '1.2.3.4');
  });

  it('fails closed: absent (SPIRE < 1.15), empty, garbage, or another address', () => {
    assert.throws(
      () => checkNodeAddress(md(), node, 'c'),
      (e: unknown) => isAttestorError(e, 'ERR_NODE') && e.message.includes('needs SPIRE 1.15'),
    );
    assert.throws(
      () => checkNodeAddress(md(''), node, 'c'),
      (e: unknown) => isAttestorError(e, 'ERR_NODE') && e.message.includes('no usable agent address'),
    );
    assert.throws(() => checkNodeAddress(md('n1'), node, 'c'), code('ERR_NODE'));
    // The Node's own addresses are for the log (details), never the caller.
    assert.throws(
      () => checkNodeAddress(md('10.0.0.6'), node, 'c'),
      (e: unknown) =>
        isAttestorError(e, 'ERR_NODE') &&
        e.message === 'the agent connected from 10.0.0.6, which is not an address of node n1 in cluster c' &&
        e.details.node_addresses === '10.0.0.5, 2001:db8::5',
    );
  });
});

describe('SPIRE version', () => {
  it('parses spire-server --version output', () => {
    assert.deepEqual(parseSpireVersion('1.13.3-dev-unk\n'), {
      major: 1,
      minor: 13,
      patch: 3,
      text: '1.13.3-dev-unk',
    });
    assert.equal(parseSpireVersion('v1.15.2')?.minor, 15);
    assert.equal(parseSpireVersion('nonsense'), undefined);
    assert.equal(atLeast({ major: 1, minor: 15, patch: 0, text: '' }, 1, 15), true);
    assert.equal(atLeast({ major: 1, minor: 13, patch: 3, text: '' }, 1, 15), false);
    assert.equal(atLeast({ major: 2, minor: 0, patch: 0, text: '' }, 1, 15), true);
  });
});

describe('per-cluster policy configuration', () => {
  let dir: string;
  let ca: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'na-policy-'));
    ca = join(dir, 'ca.crt');
    writeFileSync(ca, (await createCa()).pem);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const cfg = (body: string): string => `clusters "a" {\n  ca_bundle_path = "${ca}"\n${body}\n}`;
  const refused = (body: string, pattern: RegExp): void => {
    assert.throws(
      () => loadServerConfig(cfg(body), 'example.org'),
      (e: unknown) => isAttestorError(e, 'ERR_CONFIG') && pattern.test(e.message),
      body,
    );
  };

  it('reads the keys', () => {
    const p = loadServerConfig(
      cfg(
        'verify_node = true\nkubeconfig_path = "/k"\nkube_context = "ctx"\nallowed_node_label_keys = ["topology.kubernetes.io/zone", "tier"]\nrequire_node_address = true\nmax_certificate_lifetime = "2h"\nmax_certificate_age = "1h"',
      ),
      'example.org',
    ).policies.get('a');
    assert.ok(p?.node);
    assert.deepEqual(p.age, { maxLifetimeMs: 2 * H, maxAgeMs: H });
    assert.deepEqual(p.node.kube, { kubeconfig: '/k', context: 'ctx' });
    assert.deepEqual([...p.node.labelKeys], ['topology.kubernetes.io/zone', 'tier']);
    assert.equal(p.node.requireAddress, true);
    assert.deepEqual(
      loadServerConfig(cfg('verify_node = true'), 'example.org').policies.get('a')?.node?.kube,
      { inCluster: true },
    );
    assert.equal(loadServerConfig(cfg(''), 'example.org').policies.get('a')?.node, undefined);
  });

  it('refuses node options without verify_node, bad label keys and durations', () => {
    refused('kubeconfig_path = "/k"', /clusters\."a"\.kubeconfig_path needs verify_node = true/);
    refused('require_node_address = true', /require_node_address needs verify_node = true/);
    refused('allowed_node_label_keys = ["x"]', /allowed_node_label_keys needs verify_node = true/);
    refused(
      'verify_node = true\nallowed_node_label_keys = ["bad key"]',
      /"bad key" is not a valid label name/,
    );
    refused('verify_node = true\nallowed_node_label_keys = ["Bad_Prefix/x"]', /has an invalid prefix/);
    refused('verify_node = "yes"', /verify_node/);
    refused('max_certificate_lifetime = "30s"', /max_certificate_lifetime/);
    refused('max_certificate_age = "soon"', /max_certificate_age/);
  });
});

describe('Node lookup against the API', () => {
  let api: FakeApiServer;
  let dir: string;
  before(async () => {
    api = await startFakeApiServer();
    dir = mkdtempSync(join(tmpdir(), 'na-nodes-'));
  });
  after(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const client = async () => {
    const f = await api.writeClientFiles(dir, 'spire-server');
    return createKubeClient(
      await resolveKubeAccess({
        server: api.url,
        caCert: f.caCert,
        clientCert: f.clientCert,
        clientKey: f.clientKey,
      }),
    );
  };

  it('returns uid, labels and addresses, and filters labels by the allow-list', async () => {
    api.setNode({
      metadata: { name: 'n1', uid: 'uid-1', labels: { zone: 'z1', secret: 's' } },
      status: { addresses: [{ type: 'InternalIP', address: '10.1.1.1' }] },
    });
    const k = await client();
    try {
      const n = await lookupNode(k, 'n1', 'c');
      assert.deepEqual([n.uid, n.addresses], ['uid-1', [{ type: 'InternalIP', address: '10.1.1.1' }]]);
      assert.deepEqual(allowedLabels(n, new Set(['zone', 'absent'])), { zone: 'z1' });
    } finally {
      k.close();
    }
  });

  it('a missing Node or one being deleted is ERR_NODE; API trouble keeps its Kubernetes code', async () => {
    api.setNode({ metadata: { name: 'going', uid: 'u', deletionTimestamp: '2026-01-01T00:00:00Z' } });
    const k = await client();
    try {
      await assert.rejects(
        lookupNode(k, 'ghost', 'c'),
        (e: unknown) =>
          isAttestorError(e, 'ERR_NODE') && e.message === 'node ghost does not exist in cluster c',
      );
      await assert.rejects(
        lookupNode(k, 'going', 'c'),
        (e: unknown) => isAttestorError(e, 'ERR_NODE') && e.message.includes('is being deleted'),
      );
      api.addRule({ path: '/api/v1/nodes/n1', respond: { status: 503, reason: 'ServiceUnavailable' } });
      await assert.rejects(lookupNode(k, 'n1', 'c'), code('ERR_KUBE_API'));
    } finally {
      k.close();
    }
  });
});

describe('the server plugin with verify_node, over gRPC', () => {
  let api: FakeApiServer;
  let dir: string;
  let ca: TestCert;
  let kubeconfig: string;
  before(async () => {
    api = await startFakeApiServer();
    dir = mkdtempSync(join(tmpdir(), 'na-verify-'));
    ca = await createCa('CN=cluster');
    writeFileSync(join(dir, 'ca.crt'), ca.pem);
    kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeconfig({ cert: await api.issueClientCert('spire-server') }));
    api.setNode({
      metadata: {
        name: 'real',
        uid: 'uid-real',
        labels: { 'topology.kubernetes.io/zone': 'z1', hidden: 'h' },
      },
      status: { addresses: [{ type: 'InternalIP', address: '10.9.9.9' }] },
    });
  });
  after(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const hcl = (extra = ''): string =>
    `clusters "c" {\n  ca_bundle_path = "${join(dir, 'ca.crt')}"\n  verify_node = true\n  kubeconfig_path = "${kubeconfig}"\n  allowed_node_label_keys = ["topology.kubernetes.io/zone"]\n${extra}\n}`;

  async function attestAs(
    node: string,
    o: { hcl?: string; metadata?: Record<string, string>; template?: string } = {},
  ) {
    const leaf = await createNodeClientCert(ca, node);
    const plugin = await startInProcess({
      side: 'server',
      attestor: createK8sCsrServer(silentLogger, {
        spireVersion: () => Promise.resolve(parseSpireVersion('1.15.2')),
      }),
    });
    try {
      await plugin.host.load({ trustDomain: 'example.org', hcl: `${o.template ?? ''}\n${o.hcl ?? hcl()}` });
      return await plugin.host.attest(
        encodePayload({ certificates: [leaf.der], cluster: 'c' }),
        (ch) => answerChallenge(ch, leaf.key.privateKey),
        o.metadata,
      );
    } finally {
      await plugin.close();
    }
  }

  it('attests an existing Node with its UID and only the allow-listed labels as selectors', async () => {
    const out = await attestAs('real');
    assert.equal(out.attributes.spiffeId, 'spiffe://example.org/spire/agent/k8s_csr/c/real');
    assert.ok(out.attributes.selectorValues.includes('agent_node_uid:uid-real'));
    assert.ok(out.attributes.selectorValues.includes('agent_node_label:topology.kubernetes.io/zone:z1'));
    assert.ok(!out.attributes.selectorValues.some((s) => s.includes('hidden')));
  });

  it('can put the Node UID in the agent ID', async () => {
    const out = await attestAs('real', {
      template: 'agent_path_template = "/{{plugin_name}}/{{cluster}}/{{node_uid}}"',
    });
    assert.equal(out.attributes.spiffeId, 'spiffe://example.org/spire/agent/k8s_csr/c/uid-real');
  });

  it('refuses a certificate for a node name with no Node object: PermissionDenied', async () => {
    await assert.rejects(
      attestAs('ghost'),
      (e: { code?: number; details?: string }) =>
        e.code === status.PERMISSION_DENIED &&
        (e.details ?? '').includes('node ghost does not exist in cluster c'),
    );
  });

  it('API trouble is Unavailable (SPIRE retries)', async () => {
    api.addRule({ path: '/api/v1/nodes/real', respond: { status: 500, reason: 'InternalError' }, times: 1 });
    await assert.rejects(attestAs('real'), (e: { code?: number }) => e.code === status.UNAVAILABLE);
  });

  it('binds the agent address when required (SPIRE 1.15 metadata)', async () => {
    const withAddr = hcl('  require_node_address = true');
    const ok = await attestAs('real', { hcl: withAddr, metadata: { 'x-forwarded-client-ip': '10.9.9.9' } });
    assert.ok(ok.attributes.selectorValues.includes('agent_node_uid:uid-real'));
    await assert.rejects(
      attestAs('real', { hcl: withAddr, metadata: { 'x-forwarded-client-ip': '192.0.2.1' } }),
      (e: { code?: number; details?: string }) =>
        e.code === status.PERMISSION_DENIED && (e.details ?? '').includes('connected from 192.0.2.1'),
    );
    await assert.rejects(
      attestAs('real', { hcl: withAddr }),
      (e: { code?: number; details?: string }) =>
        e.code === status.PERMISSION_DENIED && (e.details ?? '').includes('needs SPIRE 1.15'),
    );
  });

  it('refuses require_node_address at Configure under SPIRE 1.13', async () => {
    const attestor = createK8sCsrServer(silentLogger, {
      spireVersion: () => Promise.resolve(parseSpireVersion('1.13.3-dev-unk')),
    });
    await assert.rejects(
      attestor.configure({ trustDomain: 'example.org', hcl: hcl('  require_node_address = true') }),
      (e: unknown) =>
        isAttestorError(e, 'ERR_CONFIG') &&
        /require_node_address needs SPIRE 1\.15 or later.*this spire-server is 1\.13\.3-dev-unk/.test(
          e.message,
        ),
    );
    // An unknown version is allowed: attestations then fail closed without the address.
    await createK8sCsrServer(silentLogger, { spireVersion: () => Promise.resolve(undefined) }).configure({
      trustDomain: 'example.org',
      hcl: hcl('  require_node_address = true'),
    });
  });

  it('a bad kubeconfig for verify_node fails Configure naming the cluster', async () => {
    const attestor = createK8sCsrServer(silentLogger);
    await assert.rejects(
      attestor.configure({
        trustDomain: 'example.org',
        hcl: hcl().replace(kubeconfig, join(dir, 'missing-kubeconfig')),
      }),
      (e: unknown) =>
        isAttestorError(e, 'ERR_CONFIG') &&
        /clusters\."c": Kubernetes access for verify_node: .*missing-kubeconfig/.test(e.message),
    );
  });
});

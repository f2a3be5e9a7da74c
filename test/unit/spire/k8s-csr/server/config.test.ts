/**
 * The k8s_csr server plugin's configuration (loadServerConfig): every key with a good and a bad
 * value, both HCL forms SPIRE sends and JSON (plugin_data_file), and the CA bundle reload that a
 * second Configure performs, checked through the attestor object.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { answerChallenge, encodePayload } from '../../../../../src/attestation/agent.js';
import { AttestorError, isAttestorError } from '../../../../../src/errors.js';
import { silentLogger } from '../../../../../src/log/logger.js';
import { DEFAULT_PLUGIN_NAME, loadServerConfig } from '../../../../../src/spire/k8s-csr/server/config.js';
import { createK8sCsrServer } from '../../../../../src/spire/k8s-csr/server/k8s-csr-server.js';
import type { ServerAttestContext } from '../../../../../src/spire/host/types.js';
import { createCa, createNodeClientCert, type TestCert } from '../../../../support/pki.js';
import { loadCertificateReader } from '../../../../../src/attestation/chain/certificate.js';

// These call the synchronous readers directly; the server runs them through withCertificateReader.
before(loadCertificateReader);

const TD = 'example.org';

/** Runs `fn` and returns the ERR_CONFIG it throws; fails for anything else. */
function configError(fn: () => unknown): AttestorError {
  try {
    fn();
  } catch (err) {
    assert.ok(isAttestorError(err, 'ERR_CONFIG'), `expected ERR_CONFIG, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an ERR_CONFIG error');
}

async function rejectsConfig(p: Promise<unknown>): Promise<AttestorError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isAttestorError(err, 'ERR_CONFIG'), `expected ERR_CONFIG, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an ERR_CONFIG error');
}

/** The attestation a good agent performs: payload with `leaf`, challenge answered with its key. */
function agentCtx(leaf: TestCert): ServerAttestContext {
  return {
    challenge: (c) => Promise.resolve(answerChallenge(c, leaf.key.privateKey)),
    metadata: new Map(),
    signal: new AbortController().signal,
  };
}

const payloadOf = (leaf: TestCert, cluster?: string): Buffer =>
  encodePayload(cluster === undefined ? { certificates: [leaf.der] } : { certificates: [leaf.der], cluster });

describe('k8s_csr server configuration', () => {
  let dir: string;
  let caA: TestCert;
  let caB: TestCert;
  let pathA: string;
  let pathB: string;
  const block = (name: string, path: string): string =>
    `clusters "${name}" {\n  ca_bundle_path = "${path}"\n}`;
  const one = (): string => block('a', pathA);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'k8s-csr-server-config-'));
    [caA, caB] = await Promise.all([createCa('CN=cluster-a-ca'), createCa('CN=cluster-b-ca')]);
    pathA = join(dir, 'a.crt');
    pathB = join(dir, 'b.crt');
    writeFileSync(pathA, caA.pem);
    writeFileSync(pathB, caB.pem);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('good configurations', () => {
    it('reads one cluster with every default', () => {
      const c = loadServerConfig(one(), TD);
      assert.equal(c.compiled.pluginName, DEFAULT_PLUGIN_NAME);
      assert.equal(c.compiled.pluginName, 'k8s_csr');
      assert.equal(c.compiled.trustDomain, TD);
      assert.equal(c.compiled.clockSkewSeconds, 30);
      assert.equal(c.compiled.maxIntermediates, 4);
      assert.equal(c.compiled.template.text, '/{{plugin_name}}/{{cluster}}/{{node_name}}');
      assert.deepEqual([...c.bundles], [['a', { path: pathA, certificates: 1 }]]);
      assert.deepEqual([...c.compiled.clusters.keys()], ['a']);
    });

    it('reads two clusters in HCL block syntax', () => {
      const c = loadServerConfig(`${block('a', pathA)}\n${block('b', pathB)}`, TD);
      assert.deepEqual([...c.bundles.keys()], ['a', 'b']);
      assert.equal(c.bundles.get('b')?.path, pathB);
      assert.equal(c.compiled.clusters.get('b')?.[0]?.subject, 'CN=cluster-b-ca');
    });

    it('reads two clusters in HCL map syntax (as spire-server re-prints plugin_data)', () => {
      const hcl = `clusters = {\n  "a" = { ca_bundle_path = "${pathA}" }\n  "b" = {\n    ca_bundle_path = "${pathB}"\n  }\n}`;
      const c = loadServerConfig(hcl, TD);
      assert.deepEqual([...c.bundles.keys()], ['a', 'b']);
      assert.equal(c.compiled.clusters.get('a')?.[0]?.subject, 'CN=cluster-a-ca');
    });

    it('reads a CA bundle by the one rule of every cluster CA bundle: text and other blocks are skipped', () => {
      const path = join(dir, 'annotated.crt');
      writeFileSync(
        path,
        `# cluster a\n${caA.pem}\n${caA.key.privateKeyPem}\nsubject=CN=cluster-b-ca\n${caB.pem}`,
      );
      const c = loadServerConfig(block('a', path), TD);
      assert.deepEqual([...c.bundles], [['a', { path, certificates: 2 }]]);
    });

    it('reads JSON (a plugin_data_file may be JSON)', () => {
      const json = JSON.stringify({
        plugin_name: 'x509pop',
        clock_skew: '2m',
        max_intermediates: 0,
        agent_path_template: '/{{plugin_name}}/{{cluster}}/n-{{node_name}}',
        clusters: { a: { ca_bundle_path: pathA }, b: { ca_bundle_path: pathB } },
      });
      const c = loadServerConfig(json, TD);
      assert.equal(c.compiled.pluginName, 'x509pop');
      assert.equal(c.compiled.clockSkewSeconds, 120);
      assert.equal(c.compiled.maxIntermediates, 0);
      assert.equal(c.compiled.template.text, '/{{plugin_name}}/{{cluster}}/n-{{node_name}}');
      assert.deepEqual([...c.bundles.keys()], ['a', 'b']);
    });

    it('reads every optional key with a good value', () => {
      const hcl = [
        'plugin_name = "k8s_csr_prod"',
        'agent_path_template = "/k8s_csr_prod/{{cluster}}/{{fingerprint}}"',
        'clock_skew = "10m"',
        'max_intermediates = 16',
        one(),
      ].join('\n');
      const c = loadServerConfig(hcl, TD);
      assert.equal(c.compiled.pluginName, 'k8s_csr_prod');
      assert.equal(c.compiled.clockSkewSeconds, 600);
      assert.equal(c.compiled.maxIntermediates, 16);
      assert.deepEqual([...c.compiled.template.variables].sort(), ['cluster', 'fingerprint']);
    });

    it('counts every certificate of a multi-CA bundle', () => {
      const both = join(dir, 'both.crt');
      writeFileSync(both, caA.pem + caB.pem);
      const c = loadServerConfig(block('a', both), TD);
      assert.equal(c.bundles.get('a')?.certificates, 2);
      assert.equal(c.compiled.clusters.get('a')?.length, 2);
    });
  });

  describe('clusters', () => {
    it('refuses a configuration without clusters, or with none in them', () => {
      for (const hcl of ['', 'clusters = {}', 'clock_skew = "1m"']) {
        const e = configError(() => loadServerConfig(hcl, TD));
        assert.match(e.message, /^clusters must name at least one cluster/);
        assert.equal(e.details.key, 'clusters');
      }
    });

    it('refuses clusters that is not a block, and a cluster entry that is not a block', () => {
      let e = configError(() => loadServerConfig('clusters = ["a"]', TD));
      assert.match(e.message, /clusters: expected a block/);
      e = configError(() => loadServerConfig('clusters = { a = "/x" }', TD));
      assert.match(e.message, /clusters\."a": expected a block/);
    });

    it('refuses invalid cluster names', () => {
      const cases: [string, RegExp][] = [
        ['a/b', /may contain only letters, digits/],
        ['', /must not be empty/],
        ['..', /must not be "\.\."/],
        ['has space', /may contain only letters, digits/],
        ['x'.repeat(254), /at most 253 characters/],
      ];
      for (const [name, why] of cases) {
        const e = configError(() => loadServerConfig(block(name, pathA), TD));
        assert.match(e.message, /^clusters: cluster name /);
        assert.match(e.message, why);
        assert.equal(e.details.key, 'clusters');
      }
      // 253 characters is still fine.
      assert.ok(loadServerConfig(block('x'.repeat(253), pathA), TD).bundles.has('x'.repeat(253)));
    });

    it('refuses a cluster without ca_bundle_path, naming the cluster', () => {
      for (const hcl of ['clusters "a" {\n}', 'clusters "a" {\n  ca_bundle_path = ""\n}']) {
        const e = configError(() => loadServerConfig(hcl, TD));
        assert.match(e.message, /ca_bundle_path/);
        assert.match(e.message, /clusters\."a"/);
      }
      const e = configError(() => loadServerConfig('clusters "a" {\n  ca_bundle_path = 7\n}', TD));
      assert.match(e.message, /clusters\."a"\.ca_bundle_path: expected a string, got the number 7/);
    });

    it('refuses a CA bundle path that does not exist', () => {
      const missing = join(dir, 'missing.crt');
      const e = configError(() => loadServerConfig(block('a', missing), TD));
      assert.equal(e.message, `clusters."a".ca_bundle_path ${missing}: cannot read the file (no such file)`);
      assert.equal(e.details.key, 'clusters."a".ca_bundle_path');
    });

    it('refuses a CA bundle over 4 MiB (a valid CA, then BEGIN lines without END) before parsing it', () => {
      const huge = join(dir, 'huge.crt');
      const text = caA.pem + '-----BEGIN CERTIFICATE-----\n'.repeat(150_000);
      writeFileSync(huge, text);
      const e = configError(() => loadServerConfig(block('a', huge), TD));
      assert.equal(
        e.message,
        `clusters."a".ca_bundle_path ${huge}: is ${Buffer.byteLength(text)} bytes; the limit for PEM input is 4 MiB`,
      );
      assert.equal(e.details.key, 'clusters."a".ca_bundle_path');
    });

    it('refuses a CA bundle path that is a directory', () => {
      const sub = join(dir, 'a-directory');
      mkdirSync(sub, { recursive: true });
      const e = configError(() => loadServerConfig(block('a', sub), TD));
      assert.equal(e.message, `clusters."a".ca_bundle_path ${sub}: cannot read the file (is a directory)`);
      assert.equal(e.details.key, 'clusters."a".ca_bundle_path');
    });

    it('refuses a CA bundle path under a file (ENOTDIR)', () => {
      const file = join(dir, 'plain-file');
      writeFileSync(file, caA.pem);
      const e = configError(() => loadServerConfig(block('a', join(file, 'ca.crt')), TD));
      assert.match(
        e.message,
        /^clusters\."a"\.ca_bundle_path .*plain-file\/ca\.crt: cannot read the file \(ENOTDIR\)$/,
      );
      assert.equal(e.details.key, 'clusters."a".ca_bundle_path');
    });

    it(
      'refuses an unreadable CA bundle',
      { skip: process.getuid?.() === 0 ? 'root reads anything' : false },
      () => {
        const locked = join(dir, 'locked.crt');
        writeFileSync(locked, caA.pem);
        chmodSync(locked, 0o000);
        const e = configError(() => loadServerConfig(block('a', locked), TD));
        assert.match(
          e.message,
          /clusters\."a"\.ca_bundle_path .*: cannot read the file \(permission denied\)$/,
        );
      },
    );

    it('refuses a CA bundle that is not PEM certificates', () => {
      const cases: [string, string, RegExp][] = [
        ['junk.crt', 'this is not PEM\n', /: no PEM CERTIFICATE block found$/],
        ['empty.crt', '', /: no PEM CERTIFICATE block found$/],
        // Other blocks are skipped, as Kubernetes' CA readers do: a key alone is no bundle.
        ['key.crt', caA.key.privateKeyPem, /: no PEM CERTIFICATE block found$/],
        ['der.crt', caA.der.toString('latin1'), /PEM/],
        [
          'broken.crt',
          '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
          /: certificate #1 does not parse as X\.509$/,
        ],
      ];
      for (const [name, content, why] of cases) {
        const path = join(dir, name);
        writeFileSync(path, content, 'latin1');
        const e = configError(() => loadServerConfig(block('a', path), TD));
        assert.ok(e.message.startsWith(`clusters."a".ca_bundle_path ${path}`), e.message);
        assert.match(e.message, why);
        assert.equal(e.details.key, 'clusters."a".ca_bundle_path');
      }
    });

    it('refuses a CA bundle whose certificate is not a CA', async () => {
      const leaf = await createNodeClientCert(caA, 'node-1');
      const path = join(dir, 'leaf.crt');
      writeFileSync(path, leaf.pem);
      const e = configError(() => loadServerConfig(block('a', path), TD));
      assert.match(
        e.message,
        /^clusters cluster a: CA bundle certificate 0 .*system:node:node-1.* is not a CA/,
      );
      assert.equal(e.details.key, 'clusters');
    });

    it('refuses unknown keys at the top level and inside a cluster, naming the path', () => {
      let e = configError(() => loadServerConfig(`${one()}\nclock_skw = "1m"`, TD));
      assert.match(
        e.message,
        /unknown key "clock_skw"; known keys: agent_path_template, challenge_timeout, clock_skew, clusters/,
      );
      assert.equal(e.details.key, 'clock_skw');
      e = configError(() =>
        loadServerConfig(`clusters "a" {\n  ca_bundle_path = "${pathA}"\n  ca_bundle_pth = "/y"\n}`, TD),
      );
      assert.match(
        e.message,
        /unknown key "ca_bundle_pth" in clusters\."a"; known keys: allowed_node_label_keys, ca_bundle_path, kube_context, kubeconfig_path, max_certificate_age, max_certificate_lifetime, require_node_address, verify_node$/,
      );
      assert.equal(e.details.key, 'clusters."a".ca_bundle_pth');
      e = configError(() => loadServerConfig(`${block('a', pathA)}\n${block('b c', pathB)}`, TD));
      assert.match(e.message, /cluster name "b c"/);
    });

    it('refuses configuration text that does not parse', () => {
      const e = configError(() => loadServerConfig('clusters "a" = "x"', TD));
      assert.match(e.message, /invalid plugin configuration at 1:\d+/);
      configError(() => loadServerConfig('{"clusters": ', TD));
    });
  });

  describe('plugin_name, agent_path_template, clock_skew, max_intermediates', () => {
    it('refuses an invalid plugin_name', () => {
      for (const [value, why] of [
        ['"a/b"', /may contain only letters/],
        ['""', /must not be empty/],
        ['".."', /must not be "\.\."/],
      ] as const) {
        const e = configError(() => loadServerConfig(`plugin_name = ${value}\n${one()}`, TD));
        assert.match(e.message, /^plugin_name /);
        assert.match(e.message, why);
        assert.equal(e.details.key, 'plugin_name');
      }
      const e = configError(() => loadServerConfig(`plugin_name = true\n${one()}`, TD));
      assert.match(e.message, /plugin_name: expected a string, got the boolean true/);
    });

    it('refuses an invalid agent_path_template, naming the key', () => {
      const cases: [string, RegExp][] = [
        ['/{{plugin_name}}/{{nodename}}', /unknown variable \{\{nodename\}\}/],
        ['/other/{{node_name}}', /must start with \/\{\{plugin_name\}\}\/.*\/spire\/agent\/k8s_csr\//],
        ['{{plugin_name}}/{{node_name}}', /must start with "\/"/],
        ['/{{plugin_name}}', /at least one segment after the plugin name/],
        ['/{{plugin_name}}//{{node_name}}', /is empty/],
        ['/{{plugin_name}}/..', /may not be "\.\."/],
        ['/{{plugin_name}}/a b', /outside \[A-Za-z0-9._-\]/],
        ['/{{plugin_name}}/{{cluster}', /stray brace/],
      ];
      for (const [template, why] of cases) {
        const e = configError(() =>
          loadServerConfig(`agent_path_template = ${JSON.stringify(template)}\n${one()}`, TD),
        );
        assert.match(e.message, /^agent_path_template: /, e.message);
        assert.match(e.message, why);
        assert.equal(e.details.key, 'agent_path_template');
      }
    });

    it('refuses a template under another plugin name than the configured one', () => {
      const e = configError(() =>
        loadServerConfig(
          `plugin_name = "x509pop"\nagent_path_template = "/k8s_csr/{{node_name}}"\n${one()}`,
          TD,
        ),
      );
      assert.match(e.message, /^agent_path_template: .*\/spire\/agent\/x509pop\//);
      // The literal plugin name is as good as {{plugin_name}}.
      const c = loadServerConfig(
        `plugin_name = "x509pop"\nagent_path_template = "/x509pop/{{node_name}}"\n${one()}`,
        TD,
      );
      assert.equal(c.compiled.template.text, '/x509pop/{{node_name}}');
    });

    it('refuses {{node_uid}} unless every cluster has verify_node (the UID comes from the Node lookup)', () => {
      const e = configError(() =>
        loadServerConfig(`agent_path_template = "/{{plugin_name}}/{{cluster}}/{{node_uid}}"\n${one()}`, TD),
      );
      assert.match(
        e.message,
        /^agent_path_template .* uses \{\{node_uid\}\}, which needs verify_node = true in every cluster \(not set in: a\)/,
      );
      assert.equal(e.details.key, 'agent_path_template');
      const ok = loadServerConfig(
        `agent_path_template = "/{{plugin_name}}/{{cluster}}/{{node_uid}}"\nclusters "a" {\n  ca_bundle_path = "${pathA}"\n  verify_node = true\n  kubeconfig_path = "/k"\n}`,
        TD,
      );
      assert.ok(ok.compiled.template.variables.has('node_uid'));
      assert.ok(ok.policies.get('a')?.node);
    });

    it('refuses clock_skew above 10m, negative or not a duration', () => {
      let e = configError(() => loadServerConfig(`clock_skew = "11m"\n${one()}`, TD));
      assert.match(e.message, /clock_skew: must be at most 10m0s, got "11m"/);
      assert.equal(e.details.key, 'clock_skew');
      e = configError(() => loadServerConfig(`clock_skew = "10m1s"\n${one()}`, TD));
      assert.match(e.message, /clock_skew: must be at most 10m0s/);
      e = configError(() => loadServerConfig(`clock_skew = "-1s"\n${one()}`, TD));
      assert.match(e.message, /clock_skew: must be at least 0s/);
      e = configError(() => loadServerConfig(`clock_skew = 30\n${one()}`, TD));
      assert.match(e.message, /clock_skew: expected a duration string .* got the number 30/);
      e = configError(() => loadServerConfig(`clock_skew = "30 seconds"\n${one()}`, TD));
      assert.match(e.message, /clock_skew: expected a duration string/);
      assert.equal(loadServerConfig(`clock_skew = "0s"\n${one()}`, TD).compiled.clockSkewSeconds, 0);
    });

    it('refuses max_intermediates out of range or not an integer', () => {
      const cases: [string, RegExp][] = [
        ['-1', /must be at least 0, got -1/],
        ['17', /must be at most 16, got 17/],
        ['1.5', /expected an integer, got the number 1.5/],
        ['"2"', /expected an integer, got the string "2"/],
      ];
      for (const [value, why] of cases) {
        const e = configError(() => loadServerConfig(`max_intermediates = ${value}\n${one()}`, TD));
        assert.match(e.message, /max_intermediates: /);
        assert.match(e.message, why);
        assert.equal(e.details.key, 'max_intermediates');
      }
    });

    it('reads challenge_timeout and max_pending_challenges, with their defaults', () => {
      assert.deepEqual(loadServerConfig(one(), TD).challenge, { timeoutMs: 5000, maxPending: 64 });
      assert.deepEqual(
        loadServerConfig(`challenge_timeout = "250ms"\nmax_pending_challenges = 96\n${one()}`, TD).challenge,
        { timeoutMs: 250, maxPending: 96 },
      );
      assert.deepEqual(
        loadServerConfig(`challenge_timeout = "1m"\nmax_pending_challenges = 1\n${one()}`, TD).challenge,
        { timeoutMs: 60_000, maxPending: 1 },
      );
    });

    it('refuses challenge_timeout out of range or not a duration', () => {
      const cases: [string, RegExp][] = [
        ['"0s"', /challenge_timeout: must be at least 100ms, got "0s"/],
        ['"99ms"', /challenge_timeout: must be at least 100ms, got "99ms"/],
        ['"-5s"', /challenge_timeout: must be at least 100ms, got "-5s"/],
        ['"61s"', /challenge_timeout: must be at most 1m0s, got "61s"/],
        ['"soon"', /challenge_timeout: expected a duration string .* got the string "soon"/],
        ['5', /challenge_timeout: expected a duration string .* got the number 5/],
      ];
      for (const [value, why] of cases) {
        const e = configError(() => loadServerConfig(`challenge_timeout = ${value}\n${one()}`, TD));
        assert.match(e.message, why, value);
        assert.equal(e.details.key, 'challenge_timeout');
      }
    });

    it('refuses max_pending_challenges out of range (above the transport limit minus its reserve) or not an integer', () => {
      const cases: [string, RegExp][] = [
        ['0', /max_pending_challenges: must be at least 1, got 0/],
        ['-3', /max_pending_challenges: must be at least 1, got -3/],
        ['97', /max_pending_challenges: must be at most 96, got 97/],
        ['1000', /max_pending_challenges: must be at most 96, got 1000/],
        ['2.5', /max_pending_challenges: expected an integer, got the number 2.5/],
        ['"64"', /max_pending_challenges: expected an integer, got the string "64"/],
      ];
      for (const [value, why] of cases) {
        const e = configError(() => loadServerConfig(`max_pending_challenges = ${value}\n${one()}`, TD));
        assert.match(e.message, why, value);
        assert.equal(e.details.key, 'max_pending_challenges');
      }
    });

    it('refuses a bad trust domain from the core configuration', () => {
      const e = configError(() => loadServerConfig(one(), 'Not A Domain'));
      assert.match(e.message, /^trust_domain "Not A Domain" is invalid/);
    });
  });

  describe('through the attestor object', () => {
    it('attests against the configured CA, and validate() checks without applying', async () => {
      const server = createK8sCsrServer(silentLogger);
      await assert.rejects(
        server.attest(Buffer.from('{}'), agentCtx(await createNodeClientCert(caA, 'n'))),
        (e: unknown) => isAttestorError(e, 'ERR_NOT_CONFIGURED'),
      );
      assert.deepEqual(await server.validate?.({ trustDomain: TD, hcl: one() }), { valid: true, notes: [] });
      await rejectsConfig(server.validate?.({ trustDomain: TD, hcl: 'clusters = {}' }) ?? Promise.resolve());
      // validate() did not configure.
      await assert.rejects(
        server.attest(Buffer.from('{}'), agentCtx(await createNodeClientCert(caA, 'n'))),
        (e: unknown) => isAttestorError(e, 'ERR_NOT_CONFIGURED'),
      );
      await server.configure({ trustDomain: TD, hcl: `${block('a', pathA)}\n${block('b', pathB)}` });
      const leaf = await createNodeClientCert(caB, 'node-b1');
      const r = await server.attest(payloadOf(leaf, 'b'), agentCtx(leaf));
      assert.equal(r.spiffeId, 'spiffe://example.org/spire/agent/k8s_csr/b/node-b1');
      assert.equal(r.canReattest, true);
      assert.ok(r.selectorValues.includes('cluster:b'));
    });

    it('reloads the CA bundle on each Configure: after a swap only the new CA verifies', async () => {
      const bundle = join(dir, 'reload.crt');
      writeFileSync(bundle, caA.pem);
      const server = createK8sCsrServer(silentLogger);
      const hcl = block('prod', bundle);
      await server.configure({ trustDomain: TD, hcl });
      const fromA = await createNodeClientCert(caA, 'node-1');
      const fromB = await createNodeClientCert(caB, 'node-2');
      assert.equal(
        (await server.attest(payloadOf(fromA, 'prod'), agentCtx(fromA))).spiffeId,
        'spiffe://example.org/spire/agent/k8s_csr/prod/node-1',
      );
      await assert.rejects(server.attest(payloadOf(fromB, 'prod'), agentCtx(fromB)), (e: unknown) =>
        isAttestorError(e, 'ERR_CHAIN'),
      );

      // The CA rotates: same path, new content, Configure again (SPIRE re-sends it).
      writeFileSync(bundle, caB.pem);
      // Until Configure, the loaded bundle is still in force.
      await server.attest(payloadOf(fromA, 'prod'), agentCtx(fromA));
      await server.configure({ trustDomain: TD, hcl });
      assert.equal(
        (await server.attest(payloadOf(fromB, 'prod'), agentCtx(fromB))).spiffeId,
        'spiffe://example.org/spire/agent/k8s_csr/prod/node-2',
      );
      await assert.rejects(server.attest(payloadOf(fromA, 'prod'), agentCtx(fromA)), (e: unknown) =>
        isAttestorError(e, 'ERR_CHAIN'),
      );

      // A failed reload (file broken) keeps the configuration in force.
      writeFileSync(bundle, 'garbage');
      await rejectsConfig(server.configure({ trustDomain: TD, hcl }));
      await server.attest(payloadOf(fromB, 'prod'), agentCtx(fromB));
      await assert.rejects(server.attest(payloadOf(fromA, 'prod'), agentCtx(fromA)), (e: unknown) =>
        isAttestorError(e, 'ERR_CHAIN'),
      );
    });
  });
});

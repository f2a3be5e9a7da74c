/**
 * node-attestor against a real control plane: the 2018 tutorial exactly as written, manual
 * approval, denial, timeout, the watch corner cases the prototype got wrong, and bad input.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveKubeAccess } from '../../src/kube/access.js';
import { createCsrClient } from '../../src/kube/csr-client.js';
import { buildNodeCsr } from '../../src/csr/request.js';
import { generateKey } from '../../src/csr/keys.js';
import { NODE_CLIENT_SIGNER, nodeClientUsages } from '../../src/csr/profile.js';
import { createLogger } from '../../src/log/logger.js';
import { REPO_ROOT } from '../harness/bins.js';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import { freePort } from '../harness/ports.js';
import { createCa } from '../support/pki.js';
import { identityFiles, runCli, startCli, type CliRun } from './support/cli.js';

const SEED_ID_DIR = '/tmp/spire-agent-id';
const CSRS = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

interface CsrList {
  items: { metadata: { name: string }; spec: { username: string }; status?: { certificate?: string } }[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const openssl = (args: readonly string[]): string => execFileSync('openssl', args, { encoding: 'utf8' });

/** The run ended with one error line; `logLines` progress lines may come before it (waits log). */
function assertOneLineError(r: CliRun, code: number, pattern: RegExp, logLines = 0): void {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  const last = lines[lines.length - 1] ?? '';
  assert.match(last, /^node-attestor: error: /, r.stderr);
  assert.match(last, pattern);
  assert.ok(
    lines.length <= logLines + 1,
    `at most ${String(logLines)} log lines before the error:\n${r.stderr}`,
  );
}

describe('node-attestor on a real control plane', () => {
  let cp: ControlPlane;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const agent = { cert: '', key: '' };
  const manual = { cert: '', key: '' };
  const nobody = { cert: '', key: '' };

  const csrsOf = async (user: string): Promise<CsrList['items']> => {
    const r = await cp.adminRequest('GET', CSRS);
    return (JSON.parse(r.body) as CsrList).items.filter((c) => c.spec.username === user);
  };
  const waitForCsr = async (user: string, prefix: string): Promise<string> => {
    for (let i = 0; i < 200; i++) {
      const found = (await csrsOf(user)).find((c) => c.metadata.name.startsWith(prefix));
      if (found) return found.metadata.name;
      await sleep(100);
    }
    throw new Error(`no CSR ${prefix}* from ${user}`);
  };

  before(async () => {
    cp = await startControlPlane();
    work = mkdtempSync(join(tmpdir(), 'na-cli-e2e-'));
    env = { KUBECONFIG: cp.adminKubeconfig };
    // The tutorial: kubectl create -f the three YAMLs, then mint spire-agent with signcsr.sh.
    await cp.kubectl([
      'create',
      ...['csr-create-role.yml', 'csr-create-rolebinding.yml', 'csr-autoapprove-rolebinding.yml'].flatMap(
        (f) => ['-f', join(REPO_ROOT, 'k8s-configs', f)],
      ),
    ]);
    const keys = join(work, 'keys');
    execFileSync(join(REPO_ROOT, 'keys/node-attestor/signcsr.sh'), [
      '-c',
      cp.pki.caCertPath,
      '-k',
      cp.pki.caKeyPath,
      '-o',
      keys,
    ]);
    agent.cert = join(keys, 'spire-agent.crt');
    agent.key = join(keys, 'spire-agent.key');
    assert.equal(statSync(agent.key).mode & 0o777, 0o600);
    // A user that may create CSRs but gets no auto-approval, and one with no RBAC at all.
    const m = await cp.mintUser('spire-agent-manual');
    manual.cert = m.certPath;
    manual.key = m.keyPath;
    const n = await cp.mintUser('nobody');
    nobody.cert = n.certPath;
    nobody.key = n.keyPath;
    await cp.kubectl([
      'create',
      'clusterrolebinding',
      'manual-csr',
      '--clusterrole=csr-create-get',
      '--user=spire-agent-manual',
    ]);
    const csr = { group: 'certificates.k8s.io', resource: 'certificatesigningrequests' };
    await cp.waitForAccess('spire-agent', { ...csr, subresource: 'nodeclient', verb: 'create' });
    await cp.waitForAccess('spire-agent-manual', { ...csr, verb: 'watch' });
  });

  after(async () => {
    await cp.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs the tutorial exactly as written: seed flags, pinned apiserver.crt, default -id-dir and -agent-name', async () => {
    const backup = `${SEED_ID_DIR}.e2e-backup-${String(process.pid)}`;
    if (existsSync(SEED_ID_DIR)) renameSync(SEED_ID_DIR, backup);
    try {
      const seed = [
        '-ca-cert',
        cp.pki.apiserverCertPath,
        '-client-cert',
        agent.cert,
        '-client-key',
        agent.key,
      ];
      const r = await runCli(seed, env);
      assert.equal(r.code, 0, r.stderr);
      const node = hostname().trim().toLowerCase();
      assert.match(r.stdout, new RegExp(`^issued an identity for node ${node} \\(CSR node-csr-`));
      assert.deepEqual(identityFiles(SEED_ID_DIR), ['id-doc.crt', 'id-doc.key']);
      const crt = join(SEED_ID_DIR, 'id-doc.crt');
      const key = join(SEED_ID_DIR, 'id-doc.key');
      assert.equal(statSync(SEED_ID_DIR).mode & 0o777, 0o700);
      assert.equal(statSync(key).mode & 0o777, 0o600);
      assert.equal(statSync(crt).mode & 0o777, 0o644);
      assert.match(
        openssl(['x509', '-in', crt, '-noout', '-subject']),
        new RegExp(`subject=O = system:nodes, CN = system:node:${node}\\n`),
      );
      assert.match(
        openssl(['x509', '-in', crt, '-noout', '-ext', 'extendedKeyUsage']),
        /TLS Web Client Authentication/,
      );
      assert.match(openssl(['verify', '-CAfile', cp.pki.caCertPath, crt]), /: OK/);
      assert.equal(
        openssl(['pkey', '-in', key, '-pubout']),
        openssl(['x509', '-in', crt, '-noout', '-pubkey']),
      );
      const requester = (await csrsOf('spire-agent')).length;
      assert.ok(requester >= 1, 'the CSR was created as the user spire-agent');

      // Running again while the identity is fresh reuses it; -force replaces it.
      const serial = openssl(['x509', '-in', crt, '-noout', '-serial']);
      const again = await runCli(seed, env);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /^reused the identity of node /);
      assert.equal(openssl(['x509', '-in', crt, '-noout', '-serial']), serial);
      const forced = await runCli([...seed, '-force'], env);
      assert.equal(forced.code, 0, forced.stderr);
      assert.notEqual(openssl(['x509', '-in', crt, '-noout', '-serial']), serial);
      assert.equal(
        openssl(['pkey', '-in', key, '-pubout']),
        openssl(['x509', '-in', crt, '-noout', '-pubkey']),
      );
    } finally {
      rmSync(SEED_ID_DIR, { recursive: true, force: true });
      if (existsSync(backup)) renameSync(backup, SEED_ID_DIR);
    }
  });

  it('trusts a CA bundle too, takes GNU-style flags, and reports JSON', async () => {
    const dir = join(work, 'ca-bundle');
    const r = await runCli(
      [
        `--ca-cert=${cp.pki.caCertPath}`,
        '--client-cert',
        agent.cert,
        `--client-key=${agent.key}`,
        '--agent-name',
        'gnu-node',
        '--id-dir',
        dir,
        '--output',
        'json',
        '--key-type',
        'rsa-2048',
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      status: string;
      nodeName: string;
      csrName: string;
      certPath: string;
    };
    assert.equal(out.status, 'issued');
    assert.equal(out.nodeName, 'gnu-node');
    assert.match(out.csrName, /^node-csr-gnu-node-/);
    assert.match(
      openssl(['x509', '-in', out.certPath, '-noout', '-ext', 'keyUsage']),
      /Digital Signature, Key Encipherment/,
    );
  });

  it('waits for manual approval without the auto-approve binding; kubectl certificate approve completes it', async () => {
    const dir = join(work, 'manual');
    const run = startCli(
      [
        '-ca-cert',
        cp.pki.caCertPath,
        '-client-cert',
        manual.cert,
        '-client-key',
        manual.key,
        '-agent-name',
        'manual-1',
        '-id-dir',
        dir,
      ],
      env,
    );
    const name = await waitForCsr('spire-agent-manual', 'node-csr-manual-1-');
    await run.stderrMatch(new RegExp(`waiting for approval of CSR ${name}`));
    assert.equal(run.child.exitCode, null, 'still waiting');
    assert.deepEqual(identityFiles(dir), []);
    await cp.kubectl(['certificate', 'approve', name]);
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`waiting for approval of CSR ${name}.*kubectl certificate approve ${name}`),
    );
    assert.deepEqual(identityFiles(dir), ['id-doc.crt', 'id-doc.key']);
  });

  it('exits 6 with the reason when the CSR is denied, writing nothing', async () => {
    const dir = join(work, 'denied');
    const run = startCli(
      [
        '-ca-cert',
        cp.pki.caCertPath,
        '-client-cert',
        manual.cert,
        '-client-key',
        manual.key,
        '-agent-name',
        'denied-1',
        '-id-dir',
        dir,
      ],
      env,
    );
    const name = await waitForCsr('spire-agent-manual', 'node-csr-denied-1-');
    await cp.kubectl(['certificate', 'deny', name]);
    const r = await run.done;
    assertOneLineError(r, 6, new RegExp(`${name} was denied.*KubectlDeny`), 3);
    assert.deepEqual(identityFiles(dir), []);
  });

  it('exits 8 when approval does not come within -timeout, writing nothing', async () => {
    const dir = join(work, 'timeout');
    const r = await runCli(
      [
        '-ca-cert',
        cp.pki.caCertPath,
        '-client-cert',
        manual.cert,
        '-client-key',
        manual.key,
        '-agent-name',
        'slow-1',
        '-id-dir',
        dir,
        '-timeout',
        '2s',
      ],
      env,
    );
    assertOneLineError(r, 8, /not approved within 2s.*kubectl certificate approve node-csr-slow-1-/, 3);
    assert.deepEqual(identityFiles(dir), []);
  });

  it('does not miss an approval that lands before the watch starts', async () => {
    const access = await resolveKubeAccess({
      kubeconfig: cp.adminKubeconfig,
      caCert: cp.pki.caCertPath,
      clientCert: agent.cert,
      clientKey: agent.key,
    });
    const client = createCsrClient(access);
    try {
      const key = await generateKey('ecdsa-p256');
      const created = await client.createCsr({
        generateName: 'node-csr-early-',
        requestPem: await buildNodeCsr({
          nodeName: 'early',
          keyType: 'ecdsa-p256',
          privateKey: key.privateKey,
        }),
        signerName: NODE_CLIENT_SIGNER,
        usages: nodeClientUsages(false),
      });
      // Let the controller approve and sign it completely before we start waiting.
      const issuedBy = Date.now() + 30_000;
      while (Date.now() < issuedBy && !(await client.getCsr(created.metadata.name)).status.certificate)
        await sleep(50);
      assert.ok((await client.getCsr(created.metadata.name)).status.certificate, 'issued before the watch');
      const got = await client.waitForCertificate(created.metadata.name, created.metadata.resourceVersion, {
        deadline: Date.now() + 10_000,
      });
      assert.match(got.certificateChainPem, /^-----BEGIN CERTIFICATE-----/);
    } finally {
      client.close();
    }
  });

  it('resumes a watch that the server closes mid-wait', async () => {
    const access = await resolveKubeAccess({
      kubeconfig: cp.adminKubeconfig,
      caCert: cp.pki.caCertPath,
      clientCert: manual.cert,
      clientKey: manual.key,
    });
    // Each watch lasts one second (server-side timeoutSeconds), so the wait spans several. The
    // client's debug line for each watch the API server answered (with its HTTP status) is the
    // proof that a second one was opened after the first ended.
    const answered: { status: number; resourceVersion: string }[] = [];
    let secondWatchOpen = (): void => undefined;
    const secondWatch = new Promise<void>((resolve) => (secondWatchOpen = resolve));
    const logger = createLogger({
      format: 'json',
      level: 'debug',
      write: (line) => {
        const e = JSON.parse(line) as Record<string, unknown>;
        if (e.msg !== 'kubernetes watch') return;
        answered.push({ status: Number(e.status), resourceVersion: String(e.resourceVersion) });
        if (answered.length === 2) secondWatchOpen();
      },
    });
    const client = createCsrClient(access, { wait: { maxWatchSeconds: 1 }, logger });
    try {
      const key = await generateKey('ecdsa-p256');
      const created = await client.createCsr({
        generateName: 'node-csr-resume-',
        requestPem: await buildNodeCsr({
          nodeName: 'resume',
          keyType: 'ecdsa-p256',
          privateKey: key.privateKey,
        }),
        signerName: NODE_CLIENT_SIGNER,
        usages: nodeClientUsages(false),
      });
      const waiting = client.waitForCertificate(created.metadata.name, created.metadata.resourceVersion, {
        deadline: Date.now() + 30_000,
      });
      // Bounded, and failing at once if the wait ends (or gives up) without a second watch.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        secondWatch,
        waiting.then(
          () => assert.fail('the wait ended before a second watch'),
          (err: unknown) => assert.fail(`the wait failed before a second watch: ${String(err)}`),
        ),
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            reject(new Error(`no second watch within 15 s (watches answered: ${JSON.stringify(answered)})`));
          }, 15_000);
        }),
      ]).finally(() => {
        clearTimeout(timer);
      });
      assert.deepEqual(
        answered.map((w) => w.status),
        [200, 200],
        'the first watch ended and a second was opened',
      );
      assert.equal(
        answered[0]?.resourceVersion,
        created.metadata.resourceVersion,
        'the first from the create',
      );
      await cp.kubectl(['certificate', 'approve', created.metadata.name]);
      const got = await waiting;
      assert.match(got.certificateChainPem, /BEGIN CERTIFICATE/);
      assert.ok(answered.length >= 2);
    } finally {
      client.close();
    }
  });

  describe('bad input: a clear one-line error, the documented exit code, nothing written', () => {
    const base = (): string[] => [
      '-ca-cert',
      cp.pki.caCertPath,
      '-client-cert',
      agent.cert,
      '-client-key',
      agent.key,
    ];
    const badDir = (): string => join(work, `bad-${String(Math.random()).slice(2)}`);

    it('missing, unreadable and malformed certificate or key files (exit 3)', async () => {
      const garbage = join(work, 'garbage.pem');
      writeFileSync(garbage, 'this is not PEM\n');
      const aDir = join(work, 'a-directory');
      mkdirSync(aDir, { recursive: true });
      const cases: [string[], RegExp][] = [
        [['-client-cert', join(work, 'missing.crt')], /missing\.crt/],
        [['-client-cert', aDir], /a-directory/],
        [['-client-cert', garbage], /garbage\.pem/],
        [['-client-key', garbage], /garbage\.pem/],
        [['-ca-cert', garbage], /garbage\.pem/],
        [['-client-key', nobody.key], /does not match|match/],
      ];
      for (const [override, pattern] of cases) {
        const dir = badDir();
        const args = base();
        for (let i = 0; i < override.length; i += 2) args[args.indexOf(override[i]!) + 1] = override[i + 1]!;
        const r = await runCli([...args, '-id-dir', dir], env);
        assertOneLineError(r, 3, pattern);
        assert.deepEqual(identityFiles(dir), []);
      }
    });

    it(
      'a hijacked identity directory in a shared /tmp: squatted or a planted symlink (exit 9, no CSR)',
      { skip: process.geteuid?.() !== 0 && 'needs root to act as another user' },
      async () => {
        // A private stand-in for /tmp (mode 1777), where the attacker, nobody, plants things.
        const shared = mkdtempSync(join(tmpdir(), 'na-cli-e2e-shared-'));
        chmodSync(shared, 0o1777);
        try {
          const asNobody = (...argv: string[]): void => {
            execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...argv]);
          };
          const decoy = join(work, 'decoy');
          mkdirSync(decoy, { mode: 0o700 });
          const squatted = join(shared, 'squatted');
          asNobody('mkdir', '-m', '0777', squatted);
          const linked = join(shared, 'linked');
          asNobody('ln', '-s', decoy, linked);
          const before = (await csrsOf('spire-agent')).length;
          const viaLink = await runCli([...base(), '-id-dir', linked], env);
          assertOneLineError(
            viaLink,
            9,
            new RegExp(`identity directory ${linked} is a symbolic link; refusing it`),
          );
          const squat = await runCli([...base(), '-id-dir', squatted], env);
          assertOneLineError(
            squat,
            9,
            new RegExp(
              `identity directory ${squatted} is owned by uid 65534, not by you \\(uid 0\\): remove it or choose another -id-dir$`,
            ),
          );
          assert.equal((await csrsOf('spire-agent')).length, before, 'no CSR created');
          assert.deepEqual(readdirSync(squatted), []);
          assert.deepEqual(readdirSync(decoy), []);
        } finally {
          rmSync(shared, { recursive: true, force: true });
        }
      },
    );

    it('a CA that does not match the server (exit 5)', async () => {
      const other = await createCa('CN=some-other-ca');
      const otherPath = join(work, 'other-ca.crt');
      writeFileSync(otherPath, other.pem);
      const dir = badDir();
      const r = await runCli(
        ['-ca-cert', otherPath, '-client-cert', agent.cert, '-client-key', agent.key, '-id-dir', dir],
        env,
      );
      assertOneLineError(r, 5, /certificate is not trusted by -ca-cert .*other-ca\.crt/, 1);
      assert.deepEqual(identityFiles(dir), []);
    });

    it('an unreachable server (exit 5)', async () => {
      const port = await freePort();
      const dir = badDir();
      const r = await runCli(
        [...base(), '-server', `https://127.0.0.1:${String(port)}`, '-id-dir', dir],
        env,
      );
      assertOneLineError(
        r,
        5,
        new RegExp(
          `cannot reach the Kubernetes API server at https://127\\.0\\.0\\.1:${String(port)}: connection refused`,
        ),
        1,
      );
      assert.deepEqual(identityFiles(dir), []);
    });

    it('a user without RBAC is refused by the API server (exit 4)', async () => {
      const dir = badDir();
      const r = await runCli(
        [
          '-ca-cert',
          cp.pki.caCertPath,
          '-client-cert',
          nobody.cert,
          '-client-key',
          nobody.key,
          '-id-dir',
          dir,
        ],
        env,
      );
      assertOneLineError(r, 4, /forbidden.*nobody/i, 2);
      assert.deepEqual(identityFiles(dir), []);
    });

    it('an invalid -agent-name (exit 2)', async () => {
      for (const name of ['Bad_Name', 'a/b', '..', '-x', 'x'.repeat(254)]) {
        const dir = badDir();
        const r = await runCli([...base(), `-agent-name=${name}`, '-id-dir', dir], env);
        assertOneLineError(r, 2, /-agent-name .* is not a valid node name/);
        assert.deepEqual(identityFiles(dir), []);
      }
    });

    it('an unwritable -id-dir fails before any CSR is created (exit 9)', async () => {
      const before = (await csrsOf('spire-agent')).length;
      const file = join(work, 'a-file');
      writeFileSync(file, 'x');
      const r = await runCli([...base(), '-agent-name', 'unwritable', '-id-dir', join(file, 'id')], env);
      assertOneLineError(r, 9, /a-file\/id/);
      assert.equal((await csrsOf('spire-agent')).length, before, 'no CSR was created');
    });

    it('a kubeconfig context that does not exist (exit 3)', async () => {
      const dir = badDir();
      const r = await runCli(
        [...base(), '-kubeconfig', cp.adminKubeconfig, '-context', 'nope', '-id-dir', dir],
        env,
      );
      assertOneLineError(r, 3, /context "nope" not found/);
      assert.deepEqual(identityFiles(dir), []);
    });
  });
});

/**
 * The held-challenge attack on the bundled server plugin (dist/k8s-csr-server-plugin.mjs, started
 * through its launcher line as spire-server's plugin_cmd starts it), with the fake SPIRE host
 * playing spire-server on one connection as go-plugin does. The attacker has only a copy of a
 * node's certificate (public: it travels in every payload): it opens Attest streams, takes the
 * challenges and never answers. Before the fix, 126 such streams filled the plugin's HTTP/2
 * stream limit and every honest attestation queued behind them for good.
 *
 * Also the time-dependent checks, repeated when the response arrives: a certificate that expires,
 * or passes max_certificate_age, while its challenge waits is refused.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { answerChallenge, encodePayload } from '../../src/attestation/agent.js';
import { REPO_ROOT } from '../harness/bins.js';
import { holdChallenge, holdChallenges } from '../support/challenge-holders.js';
import { FakeSpireHost } from '../support/fake-spire-host.js';
import { createCa, createNodeClientCert, type TestCert } from '../support/pki.js';

const PLUGIN = join(REPO_ROOT, 'dist', 'k8s-csr-server-plugin.mjs');
const TD = 'example.org';
/** The documented defaults (docs/plugin-server-k8s-csr.md). */
const DEFAULT_MAX_PENDING = 64;
const DEFAULT_TIMEOUT_MS = 5000;

const sleepUntil = (t: number): Promise<void> =>
  new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));
/** A time on a whole second, as X.509 stores it. */
const wholeSecond = (ms: number): Date => new Date(Math.ceil(ms / 1000) * 1000);

describe('the bundled server plugin with challenges held unanswered', () => {
  let host: FakeSpireHost;
  let dir: string;
  let ca: TestCert;
  let honest: TestCert;
  let stolen: Buffer;
  const config = (extra = '', cluster = ''): string =>
    `${extra}\nclusters "c" {\n  ca_bundle_path = "${join(dir, 'ca.crt')}"\n${cluster}\n}`;

  const honestAttests = async (): Promise<void> => {
    const r = await host.attest(encodePayload({ certificates: [honest.der], cluster: 'c' }), (ch) =>
      answerChallenge(ch, honest.key.privateKey),
    );
    assert.equal(r.attributes.spiffeId, `spiffe://${TD}/spire/agent/k8s_csr/c/honest`);
  };

  before(async () => {
    assert.ok(existsSync(PLUGIN), `${PLUGIN} is missing: run node scripts/build.mjs first`);
    const launching = FakeSpireHost.launch({ command: PLUGIN, args: [] });
    dir = mkdtempSync(join(tmpdir(), 'na-held-'));
    ca = await createCa('CN=cluster-c');
    writeFileSync(join(dir, 'ca.crt'), ca.pem);
    honest = await createNodeClientCert(ca, 'honest');
    // The victim's certificate, without its key.
    stolen = encodePayload({ certificates: [(await createNodeClientCert(ca, 'victim')).der], cluster: 'c' });
    host = await launching;
    await host.load({ trustDomain: TD, hcl: config() });
  });
  after(async () => {
    await host.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    '130 held streams (the defaults): an honest agent attests while they still hold, before any deadline',
    {
      timeout: 30_000,
    },
    async () => {
      const holders = await holdChallenges(host, stolen, 130);
      try {
        // The bound, not the transport's 128 streams, decides: the newest 64 hold, the rest were
        // ended with RESOURCE_EXHAUSTED as newer ones arrived.
        await holders.until(() => holders.holding().length <= DEFAULT_MAX_PENDING);
        assert.equal(holders.holding().length, DEFAULT_MAX_PENDING);
        const exhausted = holders.endedWith(status.RESOURCE_EXHAUSTED);
        assert.equal(exhausted.length, 130 - DEFAULT_MAX_PENDING);
        assert.match(
          exhausted[0]?.endedWith()?.details ?? '',
          /^too many attestations wait for a challenge response \(max_pending_challenges 64\); this one waited longest$/,
        );
        await honestAttests();
        // Served while the holders still held: the deadline did not clear the way.
        assert.equal(holders.endedWith(status.DEADLINE_EXCEEDED).length, 0);
        assert.ok(holders.holding().length >= DEFAULT_MAX_PENDING - 1, `${holders.holding().length} hold`);
      } finally {
        await holders.release();
      }
    },
  );

  it(
    '1000 held streams with challenge_timeout = "60s": only the bound stands between them and the honest agent',
    {
      timeout: 60_000,
    },
    async () => {
      await host.configure(TD, config('challenge_timeout = "60s"'));
      const holders = await holdChallenges(host, stolen, 1000);
      try {
        await holders.until(() => holders.holding().length <= DEFAULT_MAX_PENDING);
        assert.equal(holders.holding().length, DEFAULT_MAX_PENDING);
        assert.equal(holders.endedWith(status.RESOURCE_EXHAUSTED).length, 1000 - DEFAULT_MAX_PENDING);
        for (let i = 0; i < 3; i++) await honestAttests();
        assert.equal(holders.endedWith(status.DEADLINE_EXCEEDED).length, 0);
      } finally {
        await holders.release();
        await host.configure(TD, config());
      }
    },
  );

  it(
    'a challenge left unanswered ends with DEADLINE_EXCEEDED after challenge_timeout (default 5s)',
    {
      timeout: 30_000,
    },
    async () => {
      const h = holdChallenge(host, stolen);
      assert.equal(await h.first, 'challenge');
      const end = await h.ended;
      const waited = performance.now() - (h.challengedAt() ?? Number.NaN);
      assert.equal(end.code, status.DEADLINE_EXCEEDED, `${status[end.code]}: ${end.details}`);
      assert.equal(end.details, 'no challenge response within 5s (challenge_timeout)');
      // Not before the deadline (the plugin set its timer before the challenge left).
      assert.ok(waited >= DEFAULT_TIMEOUT_MS - 100, `ended after ${waited.toFixed(0)} ms`);
      const line = await host.waitForLog(
        (l) => l['@message'] === 'Attestation refused' && l.code === 'ERR_CHALLENGE_TIMEOUT',
      );
      assert.equal(line.grpc_code, 'DEADLINE_EXCEEDED');
      await honestAttests();
    },
  );

  /**
   * Sends the payload, takes the challenge, waits until `answerAt`, then answers with the key;
   * resolves with the plugin's refusal (fails the test if it attested).
   */
  const answerLate = async (leaf: TestCert, answerAt: number): Promise<ServiceError> => {
    const s = host.openAttest();
    try {
      s.send({
        request: { $case: 'payload', payload: encodePayload({ certificates: [leaf.der], cluster: 'c' }) },
      });
      const m = await s.recv();
      // The checks before the challenge passed: the certificate was good then.
      assert.equal(m?.response?.$case, 'challenge');
      await sleepUntil(answerAt);
      s.send({
        request: {
          $case: 'challengeResponse',
          challengeResponse: answerChallenge(m.response.challenge, leaf.key.privateKey),
        },
      });
      const r = await s.recv().catch((err: unknown) => err as ServiceError);
      if (r instanceof Error) return r;
      return assert.fail(`attested with a certificate no longer acceptable: ${JSON.stringify(r?.response)}`);
    } finally {
      s.cancel();
    }
  };

  it('refuses a response that arrives after the certificate expired', { timeout: 60_000 }, async () => {
    // 10 s of validity leaves room to make the certificate and get the challenge on a loaded
    // machine; the longer challenge_timeout lets the late answer reach the expiry check.
    await host.configure(TD, config('clock_skew = "0s"\nchallenge_timeout = "30s"'));
    try {
      const notAfter = wholeSecond(Date.now() + 10_000);
      const leaf = await createNodeClientCert(ca, 'short-lived', { notAfter });
      const e = await answerLate(leaf, notAfter.getTime() + 100);
      assert.equal(e.code, status.PERMISSION_DENIED, `${status[e.code]}: ${e.details}`);
      assert.equal(
        e.details,
        'certificate chain does not verify to the CA bundle of a cluster this server attests',
      );
      await host.waitForLog(
        (l) =>
          l['@message'] === 'Attestation refused' && /leaf certificate .* expired at/.test(String(l.detail)),
      );
    } finally {
      await host.configure(TD, config());
    }
  });

  it(
    'refuses a response that arrives after the certificate passed max_certificate_age',
    { timeout: 60_000 },
    async () => {
      await host.configure(TD, config('challenge_timeout = "30s"', '  max_certificate_age = "1m"'));
      try {
        const notBefore = wholeSecond(Date.now() - 50_000);
        const leaf = await createNodeClientCert(ca, 'aging', { notBefore });
        const e = await answerLate(leaf, notBefore.getTime() + 60_000 + 100);
        assert.equal(e.code, status.PERMISSION_DENIED, `${status[e.code]}: ${e.details}`);
        assert.equal(e.details, "certificate was issued longer ago than the cluster's max_certificate_age");
        await host.waitForLog(
          (l) =>
            l['@message'] === 'Attestation refused' &&
            String(l.detail).includes('more than max_certificate_age 1m0s'),
        );
      } finally {
        await host.configure(TD, config());
      }
    },
  );

  it('unloads like SPIRE: Deinit, Shutdown, exit 0', async () => {
    const r = await host.unload();
    assert.equal(r.graceful, true, `not exited within 2 s; stderr:\n${host.stderr}`);
    assert.equal(r.code, 0);
    assert.deepEqual(host.rawStderrLines(), []);
  });
});

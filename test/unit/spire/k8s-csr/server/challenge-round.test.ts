/**
 * The challenge round of the server plugin: the deadline and the bound on pending challenges
 * (PendingChallenges), and every time-dependent check repeated when the response arrives, with
 * real certificates and a clock the test controls. The attack through the bundled plugin process
 * is test/e2e/held-challenges.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { answerChallenge, encodePayload } from '../../../../../src/attestation/agent.js';
import { isAttestorError } from '../../../../../src/errors.js';
import { silentLogger } from '../../../../../src/log/logger.js';
import { createK8sCsrServer } from '../../../../../src/spire/k8s-csr/server/k8s-csr-server.js';
import {
  MAX_PENDING_CHALLENGES_LIMIT,
  PendingChallenges,
} from '../../../../../src/spire/k8s-csr/server/pending-challenges.js';
import { MAX_CONCURRENT_STREAMS } from '../../../../../src/spire/host/serve-plugin.js';
import { holdChallenge } from '../../../../support/challenge-holders.js';
import { startInProcess, type InProcessPlugin } from '../../../../support/in-process-plugin.js';
import { createCa, createNodeClientCert, type TestCert } from '../../../../support/pki.js';

const MIN = 60_000;
const H = 60 * MIN;

/** A challenge round whose response the test supplies (or never does). */
function held(pc: PendingChallenges): { result: Promise<string>; answer: (v: string) => void } {
  let answer: (v: string) => void = () => undefined;
  const result = pc.run(
    (signal) =>
      new Promise<string>((resolve, reject) => {
        answer = resolve;
        signal.addEventListener('abort', () => {
          reject(signal.reason as Error);
        });
      }),
  );
  return {
    result,
    answer: (v) => {
      answer(v);
    },
  };
}

describe('PendingChallenges', () => {
  it('leaves room in the transport: the bound is always below its stream limit', () => {
    assert.ok(MAX_PENDING_CHALLENGES_LIMIT < MAX_CONCURRENT_STREAMS - 2);
  });

  it('ends a challenge unanswered after the timeout (ERR_CHALLENGE_TIMEOUT) and frees its slot', async () => {
    const pc = new PendingChallenges({ timeoutMs: 50, maxPending: 2 });
    const h = held(pc);
    assert.equal(pc.size, 1);
    await assert.rejects(
      h.result,
      (e: unknown) =>
        isAttestorError(e, 'ERR_CHALLENGE_TIMEOUT') &&
        e.message === 'no challenge response within 50ms (challenge_timeout)',
    );
    assert.equal(pc.size, 0);
  });

  it('when full, ends the challenge that has waited longest (ERR_TOO_MANY_CHALLENGES), never the new one', async () => {
    const pc = new PendingChallenges({ timeoutMs: H, maxPending: 2 });
    const a = held(pc);
    const b = held(pc);
    const c = held(pc);
    await assert.rejects(
      a.result,
      (e: unknown) =>
        isAttestorError(e, 'ERR_TOO_MANY_CHALLENGES') &&
        e.message.endsWith('(max_pending_challenges 2); this one waited longest'),
    );
    assert.equal(pc.size, 2);
    c.answer('c');
    assert.equal(await c.result, 'c');
    b.answer('b');
    assert.equal(await b.result, 'b');
    assert.equal(pc.size, 0);
  });

  it('answered challenges leave the bound at once: a bound of 1 serves one caller after another', async () => {
    const pc = new PendingChallenges({ timeoutMs: H, maxPending: 1 });
    for (const v of ['x', 'y', 'z']) assert.equal(await pc.run(() => Promise.resolve(v)), v);
    assert.equal(pc.size, 0);
  });

  it('applies new limits to challenges sent afterwards', async () => {
    const pc = new PendingChallenges({ timeoutMs: H, maxPending: 3 });
    const a = held(pc);
    const b = held(pc);
    pc.setLimits({ timeoutMs: H, maxPending: 1 });
    const c = held(pc);
    // Both older ones make way for the new one.
    await assert.rejects(a.result, (e: unknown) => isAttestorError(e, 'ERR_TOO_MANY_CHALLENGES'));
    await assert.rejects(b.result, (e: unknown) => isAttestorError(e, 'ERR_TOO_MANY_CHALLENGES'));
    c.answer('c');
    assert.equal(await c.result, 'c');
  });
});

describe('challenge_timeout and max_pending_challenges through Configure (server plugin)', () => {
  let dir: string;
  let plugin: InProcessPlugin;
  let stolen: Buffer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'na-limits-'));
    const ca = await createCa('CN=cluster-c');
    writeFileSync(join(dir, 'ca.crt'), ca.pem);
    stolen = encodePayload({ certificates: [(await createNodeClientCert(ca, 'victim')).der], cluster: 'c' });
    plugin = await startInProcess({ side: 'server', attestor: createK8sCsrServer(silentLogger) });
    await plugin.host.load({
      trustDomain: 'example.org',
      hcl: `challenge_timeout = "200ms"\nmax_pending_challenges = 1\nclusters "c" {\n  ca_bundle_path = "${join(dir, 'ca.crt')}"\n}`,
    });
  });
  after(async () => {
    await plugin.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a second held challenge ends the first (bound 1), and the second ends at the 200ms deadline', async () => {
    const first = holdChallenge(plugin.host, stolen);
    assert.equal(await first.first, 'challenge');
    const second = holdChallenge(plugin.host, stolen);
    assert.equal(await second.first, 'challenge');
    assert.deepEqual(await first.ended, {
      code: status.RESOURCE_EXHAUSTED,
      details:
        'too many attestations wait for a challenge response (max_pending_challenges 1); this one waited longest',
    });
    assert.deepEqual(await second.ended, {
      code: status.DEADLINE_EXCEEDED,
      details: 'no challenge response within 200ms (challenge_timeout)',
    });
  });
});

describe('time-dependent checks at the response (server plugin, a clock the test controls)', () => {
  let dir: string;
  let ca: TestCert;
  let plugin: InProcessPlugin;
  let clock = new Date();
  // A whole second, as X.509 stores times: NotBefore and NotAfter are then exactly at(...).
  const t0 = Math.floor(Date.now() / 1000) * 1000;
  const at = (ms: number): Date => new Date(t0 + ms);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'na-round-'));
    ca = await createCa('CN=cluster-c', { notBefore: at(-24 * H), notAfter: at(24 * H) });
    writeFileSync(join(dir, 'ca.crt'), ca.pem);
    plugin = await startInProcess({
      side: 'server',
      attestor: createK8sCsrServer(silentLogger, { now: () => clock }),
    });
    await plugin.host.load({
      trustDomain: 'example.org',
      hcl: `clock_skew = "0s"\nclusters "c" {\n  ca_bundle_path = "${join(dir, 'ca.crt')}"\n  max_certificate_age = "1h"\n}`,
    });
  });
  after(async () => {
    await plugin.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Attests with `chain` (leaf first, its key answering) at t0; once the challenge is out the
   * clock moves to `answerAt`, then the agent answers. Resolves with the refusal, or 'attested'.
   */
  const attestAnsweringAt = async (
    chain: readonly TestCert[],
    answerAt: Date,
  ): Promise<ServiceError | 'attested'> => {
    const [leaf] = chain;
    assert.ok(leaf);
    clock = at(0);
    const s = plugin.host.openAttest();
    try {
      s.send({
        request: {
          $case: 'payload',
          payload: encodePayload({ certificates: chain.map((c) => c.der), cluster: 'c' }),
        },
      });
      const m = await s.recv();
      assert.equal(m?.response?.$case, 'challenge', 'the certificate was acceptable at t0');
      clock = answerAt;
      s.send({
        request: {
          $case: 'challengeResponse',
          challengeResponse: answerChallenge(m.response.challenge, leaf.key.privateKey),
        },
      });
      const r = await s.recv();
      assert.equal(r?.response?.$case, 'agentAttributes');
      return 'attested';
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      return err as ServiceError;
    } finally {
      s.cancel();
    }
  };

  const refusedWith = (outcome: ServiceError | 'attested', details: string, logged: RegExp): void => {
    assert.notEqual(outcome, 'attested', 'attested with a certificate no longer acceptable at the response');
    if (outcome === 'attested') return;
    assert.equal(outcome.code, status.PERMISSION_DENIED, `${status[outcome.code]}: ${outcome.details}`);
    assert.equal(outcome.details, details);
    const line = plugin.logs().findLast((l) => l['@message'] === 'Attestation refused');
    assert.match(String(line?.detail), logged);
  };

  it('attests when the response comes in time (the clock barely moved)', async () => {
    const leaf = await createNodeClientCert(ca, 'n1', { notBefore: at(-10 * MIN), notAfter: at(H) });
    assert.equal(await attestAnsweringAt([leaf], at(1000)), 'attested');
  });

  it('refuses a response that arrives after the leaf expired', async () => {
    const leaf = await createNodeClientCert(ca, 'n1', { notBefore: at(-10 * MIN), notAfter: at(H) });
    refusedWith(
      await attestAnsweringAt([leaf], at(H + 1000)),
      'certificate chain does not verify to the CA bundle of a cluster this server attests',
      /^certificate chain does not verify to the CA bundle of cluster c: leaf certificate .* expired at /,
    );
  });

  it('refuses a response that arrives after an intermediate CA of the chain expired', async () => {
    const inter = await createCa('CN=intermediate', {
      issuer: ca,
      notBefore: at(-H),
      notAfter: at(30 * MIN),
    });
    const leaf = await createNodeClientCert(inter, 'n1', {
      notBefore: at(-10 * MIN),
      notAfter: at(20 * MIN),
    });
    assert.equal(await attestAnsweringAt([leaf, inter], at(MIN)), 'attested');
    const longer = await createNodeClientCert(inter, 'n1', { notBefore: at(-10 * MIN), notAfter: at(H) });
    refusedWith(
      await attestAnsweringAt([longer, inter], at(45 * MIN)),
      'certificate chain does not verify to the CA bundle of a cluster this server attests',
      /intermediate certificate "CN=intermediate" expired at /,
    );
  });

  it('refuses a response that arrives after the certificate passed max_certificate_age', async () => {
    const leaf = await createNodeClientCert(ca, 'n1', { notBefore: at(-50 * MIN), notAfter: at(2 * H) });
    refusedWith(
      await attestAnsweringAt([leaf], at(20 * MIN)),
      "certificate was issued longer ago than the cluster's max_certificate_age",
      /^certificate was issued 1h10m0s ago .* more than max_certificate_age 1h0m0s of cluster c$/,
    );
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { AttestorError } from '../../../../src/errors.js';
import { AttestRequest } from '../../../../src/gen/spire/plugin/server/nodeattestor/v1/nodeattestor.js';
import { GENERIC_INTERNAL_MESSAGE } from '../../../../src/spire/host/grpc-status.js';
import type {
  AgentAttributes,
  ServerAttestContext,
  ServerNodeAttestor,
} from '../../../../src/spire/host/types.js';
import {
  finalStatus,
  rawBidi,
  rawClient,
  sleep,
  startInProcess,
  type InProcessPlugin,
} from '../../../support/in-process-plugin.js';

const ATTEST = '/spire.plugin.server.nodeattestor.v1.NodeAttestor/Attest';

/** Behaviour per payload, so one server covers every case. */
class ScriptedServer implements ServerNodeAttestor {
  lastCtx: ServerAttestContext | undefined;
  aborted = 0;
  /** Stops the wait of the 'stop-waiting' case. */
  stopWaiting: AbortController | undefined;

  configure(): Promise<void> {
    return Promise.resolve();
  }

  async attest(payload: Buffer, ctx: ServerAttestContext): Promise<AgentAttributes> {
    this.lastCtx = ctx;
    ctx.signal.addEventListener('abort', () => {
      this.aborted++;
    });
    const p = payload.toString();
    const ok = {
      spiffeId: `spiffe://example.org/spire/agent/t/${p}`,
      selectorValues: ['a', 'b'],
      canReattest: true,
    };
    switch (p) {
      case 'two-rounds': {
        const r1 = await ctx.challenge(Buffer.from('c1'));
        const r2 = await ctx.challenge(Buffer.from('c2'));
        return { ...ok, selectorValues: [r1.toString(), r2.toString()] };
      }
      case 'denied':
        throw new AttestorError('ERR_CHAIN', 'certificate chain does not verify');
      case 'kube-down':
        throw new AttestorError('ERR_KUBE_UNREACHABLE', 'cannot reach the API server');
      case 'bug':
        throw new TypeError('cannot read properties of undefined (secret detail)');
      case 'bad-attributes':
        return { ...ok, spiffeId: '' };
      case 'empty-challenge':
        await ctx.challenge(Buffer.alloc(0));
        return ok;
      case 'parallel-challenges':
        await Promise.all([ctx.challenge(Buffer.from('x')), ctx.challenge(Buffer.from('y'))]);
        return ok;
      case 'stop-waiting': {
        this.stopWaiting = new AbortController();
        await ctx.challenge(Buffer.from('c'), { signal: this.stopWaiting.signal });
        return ok;
      }
      case 'metadata':
        return { ...ok, selectorValues: [...ctx.metadata].map(([k, v]) => `${k}=${v}`) };
      case 'hang':
        await new Promise((_, reject) => {
          ctx.signal.addEventListener('abort', () => {
            reject(new Error('aborted'));
          });
        });
        return ok;
      default:
        return ok;
    }
  }
}

describe('server NodeAttestor/Attest adapter', () => {
  let p: InProcessPlugin;
  const attestor = new ScriptedServer();

  before(async () => {
    p = await startInProcess({ side: 'server', attestor });
  });
  after(async () => {
    await p.close();
  });

  it('fails FailedPrecondition "not configured" before Configure', async () => {
    await assert.rejects(p.host.attest(Buffer.from('x')), (e: ServiceError) => {
      assert.equal(e.code, status.FAILED_PRECONDITION);
      assert.equal(e.details, 'not configured');
      return true;
    });
    await p.host.configure('example.org', '');
  });

  it('returns agent attributes for an attestation without challenges', async () => {
    const r = await p.host.attest(Buffer.from('simple'));
    assert.deepEqual(r.challenges, []);
    assert.deepEqual(r.attributes, {
      spiffeId: 'spiffe://example.org/spire/agent/t/simple',
      selectorValues: ['a', 'b'],
      canReattest: true,
    });
  });

  it('relays each challenge and hands back its response, then ends OK', async () => {
    const s = p.host.openAttest();
    s.send({ request: { $case: 'payload', payload: Buffer.from('two-rounds') } });
    const c1 = await s.recv();
    assert.deepEqual(c1?.response, { $case: 'challenge', challenge: Buffer.from('c1') });
    s.send({ request: { $case: 'challengeResponse', challengeResponse: Buffer.from('r1') } });
    const c2 = await s.recv();
    assert.deepEqual(c2?.response, { $case: 'challenge', challenge: Buffer.from('c2') });
    s.send({ request: { $case: 'challengeResponse', challengeResponse: Buffer.from('r2') } });
    const done = await s.recv();
    assert.equal(done?.response?.$case, 'agentAttributes');
    assert.deepEqual(done.response.agentAttributes.selectorValues, ['r1', 'r2']);
    assert.equal(await s.recv(), undefined);
    assert.equal((await s.status).code, status.OK);
  });

  it('passes gRPC metadata with lower-cased keys', async () => {
    const r = await p.host.attest(Buffer.from('metadata'), undefined, {
      'X-Forwarded-Client-IP': '10.1.2.3',
    });
    assert.ok(r.attributes.selectorValues.includes('x-forwarded-client-ip=10.1.2.3'));
    assert.ok(r.attributes.selectorValues.includes('x-untrusted-forwarded-host=agent.example'));
  });

  const refusals: readonly [string, status, RegExp, string][] = [
    ['denied', status.PERMISSION_DENIED, /^certificate chain does not verify$/, 'warn'],
    ['kube-down', status.UNAVAILABLE, /^cannot reach the API server$/, 'error'],
    ['bad-attributes', status.INTERNAL, /no valid agent SPIFFE ID/, 'error'],
    ['empty-challenge', status.INTERNAL, /empty challenge/, 'error'],
    ['parallel-challenges', status.INTERNAL, /while a challenge is pending/, 'error'],
  ];
  for (const [payload, code, re, level] of refusals) {
    it(`ends the call with ${status[code]} for ${payload} and logs it at ${level}`, async () => {
      await assert.rejects(
        p.host.attest(Buffer.from(payload), () => Buffer.from('r')),
        (e: ServiceError) => {
          assert.equal(e.code, code);
          assert.match(e.details, re);
          return true;
        },
      );
      const line = p.logs().findLast((l) => l['@message'] === 'Attestation refused');
      assert.equal(line?.['@level'], level);
      assert.equal(line.grpc_code, status[code]);
    });
  }

  it('hides the detail of unexpected errors from the host but logs it', async () => {
    await assert.rejects(p.host.attest(Buffer.from('bug')), (e: ServiceError) => {
      assert.equal(e.code, status.INTERNAL);
      assert.equal(e.details, GENERIC_INTERNAL_MESSAGE);
      return true;
    });
    const detail = p.logs().find((l) => l['@message'] === 'Attest: unexpected error');
    assert.match(String(detail?.error), /secret detail/);
  });

  it('wants the payload first, non-empty', async () => {
    const s = p.host.openAttest();
    s.send({ request: { $case: 'challengeResponse', challengeResponse: Buffer.from('x') } });
    await assert.rejects(
      s.recv(),
      (e: ServiceError) => e.code === status.INVALID_ARGUMENT && e.details.includes('must be the payload'),
    );
    const s2 = p.host.openAttest();
    s2.send({ request: { $case: 'payload', payload: Buffer.alloc(0) } });
    await assert.rejects(
      s2.recv(),
      (e: ServiceError) => e.code === status.INVALID_ARGUMENT && e.details.includes('payload is empty'),
    );
    const s3 = p.host.openAttest();
    s3.send({});
    await assert.rejects(s3.recv(), (e: ServiceError) => e.code === status.INVALID_ARGUMENT);
  });

  it('is InvalidArgument when the stream ends before the payload or the challenge response', async () => {
    const s = p.host.openAttest();
    s.closeSend();
    await assert.rejects(
      s.recv(),
      (e: ServiceError) => e.code === status.INVALID_ARGUMENT && e.details.includes('before the payload'),
    );
    const s2 = p.host.openAttest();
    s2.send({ request: { $case: 'payload', payload: Buffer.from('two-rounds') } });
    await s2.recv();
    s2.closeSend();
    await assert.rejects(
      s2.recv(),
      (e: ServiceError) =>
        e.code === status.INVALID_ARGUMENT && e.details.includes('before the challenge response'),
    );
  });

  it('wants a non-empty challenge response, not a second payload', async () => {
    for (const bad of [
      { $case: 'payload' as const, payload: Buffer.from('again') },
      { $case: 'challengeResponse' as const, challengeResponse: Buffer.alloc(0) },
    ]) {
      const s = p.host.openAttest();
      s.send({ request: { $case: 'payload', payload: Buffer.from('two-rounds') } });
      await s.recv();
      s.send({ request: bad });
      await assert.rejects(s.recv(), (e: ServiceError) => e.code === status.INVALID_ARGUMENT);
    }
  });

  it('aborts the context signal when the host cancels, and logs that quietly', async () => {
    const before = attestor.aborted;
    const s = p.host.openAttest();
    s.send({ request: { $case: 'payload', payload: Buffer.from('hang') } });
    await sleep(100);
    s.cancel();
    assert.equal((await s.status).code, status.CANCELLED);
    await sleep(100);
    assert.equal(attestor.aborted, before + 1);
    const last = p.logs().at(-1);
    assert.equal(last?.['@message'], 'Attestation stream cancelled by the host');
    assert.equal(last['@level'], 'debug');
  });

  it("stops waiting for the response when the attestor's signal aborts: the call ends with the reason's status", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const s = p.host.openAttest();
      s.send({ request: { $case: 'payload', payload: Buffer.from('stop-waiting') } });
      assert.equal((await s.recv())?.response?.$case, 'challenge');
      attestor.stopWaiting?.abort(
        new AttestorError('ERR_CHALLENGE_TIMEOUT', 'no challenge response within 1s (challenge_timeout)'),
      );
      await assert.rejects(s.recv(), (e: ServiceError) => {
        assert.equal(e.code, status.DEADLINE_EXCEEDED);
        assert.equal(e.details, 'no challenge response within 1s (challenge_timeout)');
        return true;
      });
      const line = p.logs().findLast((l) => l['@message'] === 'Attestation refused');
      assert.equal(line?.code, 'ERR_CHALLENGE_TIMEOUT');
      // The read left waiting settles as the call closes; a full round trip later it has.
      assert.equal((await p.host.attest(Buffer.from('after-abort'))).attributes.canReattest, true);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('answers random bytes with InvalidArgument and keeps serving', async () => {
    const client = rawClient(p.handle.socketPath);
    try {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
          const call = rawBidi(client, ATTEST);
          const result = finalStatus(call);
          call.write(Buffer.from(bytes));
          // A message that happens to decode as a payload reaches the attestor; cut it short.
          const decoded = (() => {
            try {
              return AttestRequest.decode(bytes).request;
            } catch {
              return undefined;
            }
          })();
          if (decoded?.$case === 'payload' && decoded.payload.length > 0) {
            call.end();
            const r = await result;
            assert.ok(r.code === status.OK || r.code === status.INVALID_ARGUMENT, `status ${r.code}`);
            return;
          }
          const r = await result;
          assert.equal(r.code, status.INVALID_ARGUMENT, r.details);
        }),
        { numRuns: 60 },
      );
    } finally {
      client.close();
    }
    assert.equal((await p.host.attest(Buffer.from('still-alive'))).attributes.canReattest, true);
  });

  it('refuses a message larger than the size limit', async () => {
    const small = await startInProcess({ side: 'server', attestor, maxMessageBytes: 1024 });
    try {
      await small.host.configure('example.org', '');
      await assert.rejects(small.host.attest(Buffer.alloc(4096, 1)), (e: ServiceError) => {
        assert.equal(e.code, status.RESOURCE_EXHAUSTED);
        return true;
      });
      assert.equal((await small.host.attest(Buffer.from('ok'))).attributes.canReattest, true);
    } finally {
      await small.close();
    }
  });
});

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { AttestorError } from '../../../../src/errors.js';
import type {
  AgentAttestation,
  AgentNodeAttestor,
  ConfigureInput,
} from '../../../../src/spire/host/types.js';
import {
  finalStatus,
  rawBidi,
  rawClient,
  sleep,
  startInProcess,
  type InProcessPlugin,
} from '../../../support/in-process-plugin.js';

const AID = '/spire.plugin.agent.nodeattestor.v1.NodeAttestor/AidAttestation';

class ScriptedAgent implements AgentNodeAttestor {
  mode = 'ok';
  begun = 0;
  signals: AbortSignal[] = [];
  /** Called as begin() starts (tests wait for it). */
  onBegin: (() => void) | undefined;

  configure(_input: ConfigureInput): Promise<void> {
    return Promise.resolve();
  }

  async begin(signal: AbortSignal): Promise<AgentAttestation> {
    this.begun++;
    this.signals.push(signal);
    this.onBegin?.();
    switch (this.mode) {
      case 'csr-denied':
        throw new AttestorError('ERR_CSR_DENIED', 'the CSR was denied: bad node');
      case 'empty-payload':
        return { payload: Buffer.alloc(0), answer: () => Promise.resolve(Buffer.from('x')) };
      case 'slow':
        await new Promise((_, reject) => {
          signal.addEventListener('abort', () => {
            reject(new Error('aborted'));
          });
        });
        break;
    }
    return {
      payload: Buffer.from('the-payload'),
      answer: (c) => {
        if (c.toString() === 'unanswerable')
          return Promise.reject(new AttestorError('ERR_IO', 'cannot read the key'));
        if (c.toString() === 'empty') return Promise.resolve(Buffer.alloc(0));
        return Promise.resolve(Buffer.from(`answer:${c.toString()}`));
      },
    };
  }
}

describe('agent NodeAttestor/AidAttestation adapter', () => {
  let p: InProcessPlugin;
  const attestor = new ScriptedAgent();

  before(async () => {
    p = await startInProcess({ side: 'agent', attestor });
  });
  after(async () => {
    await p.close();
  });

  it('fails FailedPrecondition "not configured" before Configure', async () => {
    await assert.rejects(p.host.aidAttestation(), (e: ServiceError) => {
      assert.equal(e.code, status.FAILED_PRECONDITION);
      assert.equal(e.details, 'not configured');
      return true;
    });
    await p.host.configure('example.org', '');
  });

  it('sends the payload unprompted and answers each challenge', async () => {
    const r = await p.host.aidAttestation(() => [Buffer.from('n1'), Buffer.from('n2')]);
    assert.equal(r.payload.toString(), 'the-payload');
    assert.deepEqual(
      r.responses.map((b) => b.toString()),
      ['answer:n1', 'answer:n2'],
    );
  });

  it('treats the host cancelling after the payload as the normal end', async () => {
    const before = p.logs().length;
    await p.host.aidAttestation(() => [Buffer.from('n1')]);
    // grpc-js may surface the cancel as a half-close first; both are a quiet, normal end.
    const ends = ['AidAttestation stream closed by the host', 'AidAttestation ended by the host'];
    await p.waitForLog(() =>
      p
        .logs()
        .slice(before)
        .some((l) => ends.includes(l['@message'])),
    );
    const lines = p.logs().slice(before);
    assert.ok(
      lines.some((l) => ends.includes(l['@message'])),
      JSON.stringify(lines),
    );
    assert.ok(
      lines.every((l) => l['@level'] === 'debug' || l['@level'] === 'trace'),
      JSON.stringify(lines),
    );
    // begin()'s signal is aborted too, possibly just after the line (bounded wait on the event).
    const signal = attestor.signals.at(-1);
    assert.ok(signal !== undefined);
    if (!signal.aborted) await once(signal, 'abort', { signal: AbortSignal.timeout(5000) });
  });

  it('ends OK when the host half-closes', async () => {
    const s = p.host.openAidAttestation();
    const first = await s.recv();
    assert.equal(first?.data?.$case, 'payload');
    s.closeSend();
    assert.equal(await s.recv(), undefined);
    assert.equal((await s.status).code, status.OK);
  });

  it('maps attestor errors to status codes and logs them with the code', async () => {
    attestor.mode = 'csr-denied';
    try {
      await assert.rejects(p.host.aidAttestation(), (e: ServiceError) => {
        assert.equal(e.code, status.PERMISSION_DENIED);
        assert.equal(e.details, 'the CSR was denied: bad node');
        return true;
      });
      const line = p.logs().findLast((l) => l['@message'] === 'Attestation failed');
      assert.equal(line?.['@level'], 'warn');
      assert.equal(line.code, 'ERR_CSR_DENIED');
      attestor.mode = 'empty-payload';
      await assert.rejects(
        p.host.aidAttestation(),
        (e: ServiceError) => e.code === status.INTERNAL && e.details.includes('empty payload'),
      );
    } finally {
      attestor.mode = 'ok';
    }
  });

  it('maps a failing or empty answer', async () => {
    await assert.rejects(
      p.host.aidAttestation(() => [Buffer.from('unanswerable')]),
      (e: ServiceError) => e.code === status.INTERNAL && e.details === 'cannot read the key',
    );
    await assert.rejects(
      p.host.aidAttestation(() => [Buffer.from('empty')]),
      (e: ServiceError) => e.code === status.INTERNAL && e.details.includes('empty challenge response'),
    );
  });

  it('refuses an empty challenge with InvalidArgument', async () => {
    await assert.rejects(
      p.host.aidAttestation(() => [Buffer.alloc(0)]),
      (e: ServiceError) => e.code === status.INVALID_ARGUMENT && e.details.includes('empty challenge'),
    );
  });

  it('warns when the host cancels before the payload was ready, and aborts begin()', async () => {
    attestor.mode = 'slow';
    try {
      const begun = new Promise<void>((resolve) => (attestor.onBegin = resolve));
      const s = p.host.openAidAttestation();
      // begin() is running (and will wait for the abort) before the host cancels.
      await begun;
      attestor.onBegin = undefined;
      s.cancel();
      const line = await p.waitForLog(
        (l) => l['@message'] === 'AidAttestation cancelled by the host before the payload was ready',
      );
      assert.equal(line['@level'], 'warn');
      assert.equal(attestor.signals.at(-1)?.aborted, true);
    } finally {
      attestor.mode = 'ok';
    }
  });

  it('answers random bytes as a challenge with InvalidArgument or a response, and keeps serving', async () => {
    const client = rawClient(p.handle.socketPath);
    try {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
          const call = rawBidi(client, AID);
          const result = finalStatus(call);
          // Wait for the payload, then send garbage where a Challenge belongs.
          await new Promise<void>((resolve) =>
            call.once('data', () => {
              resolve();
            }),
          );
          call.write(Buffer.from(bytes));
          await sleep(5);
          call.end();
          const r = await result;
          // Bytes that decode to a non-empty challenge are answered; the rest are refused.
          assert.ok(r.code === status.INVALID_ARGUMENT || r.code === status.OK, `${r.code} ${r.details}`);
          if (r.code === status.OK) assert.equal(r.received.length, 2);
        }),
        { numRuns: 60 },
      );
    } finally {
      client.close();
    }
    assert.equal((await p.host.aidAttestation()).payload.toString(), 'the-payload');
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isAttestorError } from '../../../src/errors.js';
import { LineSplitter } from '../../../src/kube/lines.js';
import type { CsrWatchEvent } from '../../../src/kube/watch.js';
import { createNodeCsr, setup, type Setup } from './helpers.js';

describe('LineSplitter', () => {
  it('joins lines split across chunks, including inside a UTF-8 character', () => {
    const text = Buffer.from('{"a":"é"}\n{"b":2}\n{"c"');
    const split = new LineSplitter(1024);
    const out: string[] = [];
    // 'é' is two bytes at offsets 7-8: cut between them
    out.push(...split.push(text.subarray(0, 8)));
    out.push(...split.push(text.subarray(8, 12)));
    out.push(...split.push(text.subarray(12)));
    assert.deepEqual(out, ['{"a":"é"}', '{"b":2}']);
    assert.equal(split.end(), '{"c"');
    assert.equal(split.end(), undefined);
  });

  it('bounds the line length', () => {
    const split = new LineSplitter(4);
    assert.throws(() => split.push(Buffer.from('123456')), RangeError);
  });
});

describe('watchCsr', () => {
  let s: Setup;
  before(async () => {
    s = await setup();
  });
  after(async () => {
    await s.close();
  });

  it('sends the documented query and yields typed events', async () => {
    const csr = await createNodeCsr(s.client);
    const name = csr.metadata.name;
    const events: CsrWatchEvent[] = [];
    const done = (async () => {
      for await (const ev of s.client.watchCsr(name, csr.metadata.resourceVersion, { timeoutSeconds: 30 })) {
        events.push(ev);
        if (events.length === 3) break;
      }
    })();
    await s.api.waitUntil(() => s.api.openWatches === 1);
    s.api.approve(name);
    s.api.sendBookmark();
    s.api.sendWatchError({ code: 410, reason: 'Expired', message: 'too old resource version: 1 (2)' });
    await done;
    assert.equal(
      s.api.requests.at(-1)!.url,
      `/apis/certificates.k8s.io/v1/certificatesigningrequests?watch=1&fieldSelector=metadata.name%3D${name}&resourceVersion=${csr.metadata.resourceVersion}&allowWatchBookmarks=true&timeoutSeconds=30`,
    );
    assert.equal(events[0]!.type, 'MODIFIED');
    assert.equal(events[1]!.type, 'BOOKMARK');
    assert.deepEqual(events[2], {
      type: 'ERROR',
      status: { status: 'Failure', message: 'too old resource version: 1 (2)', reason: 'Expired', code: 410 },
    });
    await s.api.waitUntil(() => s.api.openWatches === 0);
  });

  it('handles events split across chunks and ends when the server ends the stream', async (t) => {
    // Every chunk the client's line splitter is handed, to prove where the stream was cut.
    const push = t.mock.method(LineSplitter.prototype, 'push');
    const csr = await createNodeCsr(s.client);
    const line = JSON.stringify({ type: 'MODIFIED', object: s.api.csr(csr.metadata.name) });
    const events: CsrWatchEvent[] = [];
    const done = (async () => {
      for await (const ev of s.client.watchCsr(csr.metadata.name, String(s.api.resourceVersion), {
        timeoutSeconds: 30,
      }))
        events.push(ev);
    })();
    await s.api.waitUntil(() => s.api.openWatches === 1);
    // Each write ends inside an event; the next is sent only once the client has yielded the
    // event completed by the previous one, so the client has read that write by then. (One
    // write is one TLS record, decrypted whole: a read never ends inside it.)
    s.api.sendRaw(`${line}\n${line.slice(0, 10)}`);
    await s.api.waitUntil(() => events.length === 1);
    s.api.sendRaw(`${line.slice(10)}\n\n${line.slice(0, 5)}`);
    await s.api.waitUntil(() => events.length === 2);
    s.api.sendRaw(`${line.slice(5)}\n`);
    await s.api.waitUntil(() => events.length === 3);
    s.api.closeWatches();
    await done;
    assert.deepEqual(
      events.map((e) => e.type),
      ['MODIFIED', 'MODIFIED', 'MODIFIED'],
    );
    const chunks = push.mock.calls.map((c) => c.arguments[0].toString('utf8'));
    assert.equal(chunks.join(''), `${line}\n${line}\n\n${line}\n`);
    // The second and third events each began in one chunk and ended in another.
    assert.ok(
      chunks.some((c) => c.endsWith(line.slice(0, 10))),
      `a chunk ends 10 bytes into event 2: ${JSON.stringify(chunks.map((c) => c.length))}`,
    );
    assert.ok(
      chunks.some((c) => c.endsWith(line.slice(0, 5))),
      'a chunk ends 5 bytes into event 3',
    );
  });

  it('fails on a line that is not JSON, and on an unknown event type', async () => {
    const csr = await createNodeCsr(s.client);
    for (const raw of ['not json\n', '{"type":"SURPRISE","object":{}}\n', '{"object":{}}\n']) {
      const it = s.client.watchCsr(csr.metadata.name, String(s.api.resourceVersion), { timeoutSeconds: 30 });
      const p = (async () => {
        for await (const _ of it) {
          /* drain */
        }
      })();
      await s.api.waitUntil(() => s.api.openWatches === 1);
      s.api.sendRaw(raw);
      await assert.rejects(p, (err: unknown) => isAttestorError(err, 'ERR_KUBE_API'), raw);
      await s.api.waitUntil(() => s.api.openWatches === 0);
    }
  });

  it('aborting closes the stream', async () => {
    const csr = await createNodeCsr(s.client);
    const ac = new AbortController();
    const p = (async () => {
      for await (const _ of s.client.watchCsr(csr.metadata.name, String(s.api.resourceVersion), {
        timeoutSeconds: 30,
        signal: ac.signal,
      })) {
        /* drain */
      }
    })();
    await s.api.waitUntil(() => s.api.openWatches === 1);
    ac.abort();
    await assert.rejects(p, (err: unknown) => isAttestorError(err, 'ERR_CANCELLED'));
    await s.api.waitUntil(() => s.api.openWatches === 0);
  });

  it('detects a stalled stream (no bytes for longer than the idle timeout)', async () => {
    const csr = await createNodeCsr(s.client);
    const started = Date.now();
    const p = (async () => {
      for await (const _ of s.client.kube.watch(
        '/apis/certificates.k8s.io/v1/certificatesigningrequests',
        {
          fieldSelector: `metadata.name=${csr.metadata.name}`,
          resourceVersion: String(s.api.resourceVersion),
        },
        undefined,
        { idleTimeoutMs: 150 },
      )) {
        /* drain */
      }
    })();
    await assert.rejects(
      p,
      (err: unknown) => isAttestorError(err, 'ERR_KUBE_UNREACHABLE') && err.message.includes('stalled'),
    );
    assert.ok(Date.now() - started < 2000);
  });
});

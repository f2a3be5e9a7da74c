import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import { Metadata } from '@grpc/grpc-js';
import { MessageReader, StreamClosedError, metadataMap } from '../../../../src/spire/host/stream-reader.js';

describe('MessageReader', () => {
  it('reads messages in order, waiting for them, then done at end', async () => {
    const s = new PassThrough({ objectMode: true });
    const r = new MessageReader<number>(s);
    s.write(1);
    assert.deepEqual(await r.next(), { done: false, value: 1 });
    const pending = r.next();
    setTimeout(() => s.write(2), 10);
    assert.deepEqual(await pending, { done: false, value: 2 });
    s.end();
    assert.deepEqual(await r.next(), { done: true });
    assert.deepEqual(await r.next(), { done: true });
  });

  it('throws StreamClosedError when the stream is destroyed (a cancelled call)', async () => {
    const s = new PassThrough({ objectMode: true });
    const r = new MessageReader<number>(s);
    const pending = r.next();
    s.destroy();
    await assert.rejects(pending, StreamClosedError);
    const s2 = new PassThrough({ objectMode: true });
    const r2 = new MessageReader<number>(s2);
    s2.destroy(new Error('boom'));
    await assert.rejects(r2.next(), (e: unknown) => e instanceof StreamClosedError && e.message === 'boom');
  });
});

describe('metadataMap', () => {
  it('lower-cases keys and base64s binary values', () => {
    const md = new Metadata();
    md.set('X-Forwarded-Client-IP', '10.0.0.1');
    md.set('trace-bin', Buffer.from([1, 2, 3]));
    assert.deepEqual(
      [...metadataMap(md)],
      [
        ['x-forwarded-client-ip', '10.0.0.1'],
        ['trace-bin', 'AQID'],
      ],
    );
  });
});

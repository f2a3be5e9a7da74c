/** The harness's TCP forwarder (pods' way to the API server): bytes both ways, close ends all. */
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { startApiForwarder } from '../../harness/api-forwarder.js';
import { freePort } from '../../harness/ports.js';

describe('startApiForwarder', () => {
  it(
    'pipes each connection to the upstream port and back, and close() ends open connections',
    { timeout: 10_000 },
    async () => {
      // Upstream: answers every chunk with "up:" + the chunk.
      const upstream = createServer((s) => s.on('data', (d: Buffer) => s.write(`up:${d.toString()}`)));
      await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
      const addr = upstream.address();
      const upPort = typeof addr === 'object' && addr !== null ? addr.port : 0;
      const fwd = await startApiForwarder('127.0.0.1', upPort, await freePort());
      try {
        const client: Socket = connect({ host: '127.0.0.1', port: fwd.port });
        const reply = await new Promise<string>((resolve, reject) => {
          client.once('error', reject);
          client.once('data', (d: Buffer) => {
            resolve(d.toString());
          });
          client.write('hello');
        });
        assert.equal(reply, 'up:hello');
        const closed = new Promise((r) => client.once('close', r));
        await fwd.close();
        await closed; // the open connection was ended by close(), not left hanging
      } finally {
        await new Promise((r) => upstream.close(r));
      }
    },
  );
});

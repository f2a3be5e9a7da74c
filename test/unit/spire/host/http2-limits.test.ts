/**
 * SPIRE cancels each attestation stream when it is done (an RST_STREAM). Node's HTTP/2 treats
 * many resets as a "rapid reset" attack and ends the session, failing everything in flight,
 * unless the limit is raised — which the plugin does where Node allows it, and which older Node
 * lines cannot do (documented). This pins the outcome on every Node line, on one connection.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Server } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus as S } from '../../../../src/gen/grpc/health/v1/health.js';
import { STREAM_RESET_BURST, raiseStreamResetLimit } from '../../../../src/spire/host/http2-limits.js';
import { startInProcess } from '../../../support/in-process-plugin.js';

/**
 * Whether this Node lets a server set streamResetBurst/streamResetRate: added in v23.0.0 and
 * back-ported to v22.10.0 (nodejs/node#54875; Node's http2 docs, "changes" of createServer).
 * Node 20 and 21 never had them.
 */
function resetLimitConfigurable(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major >= 23 || (major === 22 && minor >= 10);
}

describe('HTTP/2 stream reset limit', () => {
  it('knows which Node lines can raise it', () => {
    for (const [v, expected] of [
      ['20.19.0', false],
      ['20.20.2', false],
      ['21.7.3', false],
      ['22.9.0', false],
      ['22.10.0', true],
      ['23.0.0', true],
      ['24.21.0', true],
      ['25.1.0', true],
    ] as const)
      assert.equal(resetLimitConfigurable(v), expected, v);
  });

  it('is raised on the grpc-js server before it binds (fails if grpc-js internals change)', () => {
    const server = new Server();
    assert.equal(raiseStreamResetLimit(server), true);
    const options = (server as unknown as { commonServerOptions: Record<string, unknown> })
      .commonServerOptions;
    assert.equal(options.streamResetBurst, STREAM_RESET_BURST);
  });

  it(`2000 cancelled streams on one connection: the session ${resetLimitConfigurable(process.versions.node) ? 'survives' : 'is closed (Node cannot raise the limit)'} on Node ${process.versions.node}`, async () => {
    const plugin = await startInProcess({
      side: 'agent',
      attestor: { configure: () => Promise.resolve(), begin: () => Promise.reject(new Error('unused')) },
    });
    try {
      // A long-lived stream on the same connection. It hears from the plugin again only if the
      // session is still up when the plugin stops (NOT_SERVING); it fails if the session died.
      const canary = plugin.host.watchHealth('plugin');
      const first = new Promise((resolve) => canary.once('data', resolve));
      const fate = new Promise<'survived' | 'session closed'>((resolve) => {
        canary.on('data', (m: { status: S }) => {
          if (m.status === S.NOT_SERVING) resolve('survived');
        });
        canary.on('error', () => {
          resolve('session closed');
        });
      });
      await first;
      const t0 = performance.now();
      for (let i = 0; i < 2000; i++) {
        const s = plugin.host.watchHealth('plugin');
        // After the session dies, a new stream may error (or reconnect) instead of answering.
        await new Promise((r) => {
          s.once('data', r);
          s.once('error', r);
        });
        s.cancel();
      }
      const seconds = (performance.now() - t0) / 1000;
      // nghttp2 allows a burst of 1000 resets, then 33/s: 2000 in under 20 s exceed it.
      assert.ok(seconds < 20, `flood too slow to test the limit (${seconds.toFixed(1)} s)`);
      // One more answered call: the plugin has now read every reset we sent.
      await plugin.host.health('plugin').catch(() => undefined);
      await plugin.handle.stop();
      assert.equal(
        await fate,
        resetLimitConfigurable(process.versions.node) ? 'survived' : 'session closed',
        `after ${seconds.toFixed(1)} s of resets`,
      );
    } finally {
      await plugin.close();
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { AgentNodeAttestor } from '../../../../src/spire/host/types.js';
import { HealthCheckResponse_ServingStatus as S } from '../../../../src/gen/grpc/health/v1/health.js';
import { startInProcess } from '../../../support/in-process-plugin.js';

const attestor: AgentNodeAttestor = {
  configure: () => Promise.resolve(),
  begin: () => Promise.reject(new Error('unused')),
};

describe('GRPCStdio/StreamStdio', () => {
  it('stays open without data until the plugin stops, then ends OK', async () => {
    const p = await startInProcess({ side: 'agent', attestor });
    try {
      p.host.startStdio();
      // A later call on the same connection has been answered, so the plugin has had the stdio
      // stream (calls are handled in the order their HEADERS arrive) and has not ended it.
      assert.equal(await p.host.health('plugin'), S.SERVING);
      assert.equal(p.host.stdioStatus, undefined, 'still open');
      await p.handle.stop();
      assert.equal(await p.host.stdioEnded, status.OK);
    } finally {
      await p.close();
    }
  });
});

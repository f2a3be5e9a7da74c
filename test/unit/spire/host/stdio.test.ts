import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { AgentNodeAttestor } from '../../../../src/spire/host/types.js';
import { sleep, startInProcess } from '../../../support/in-process-plugin.js';

const attestor: AgentNodeAttestor = {
  configure: () => Promise.resolve(),
  begin: () => Promise.reject(new Error('unused')),
};

describe('GRPCStdio/StreamStdio', () => {
  it('stays open without data until the plugin stops, then ends OK', async () => {
    const p = await startInProcess({ side: 'agent', attestor });
    try {
      p.host.startStdio();
      await sleep(150);
      assert.equal(p.host.stdioStatus, undefined);
      await p.handle.stop();
      await sleep(50);
      assert.equal(p.host.stdioStatus, status.OK);
    } finally {
      await p.close();
    }
  });
});

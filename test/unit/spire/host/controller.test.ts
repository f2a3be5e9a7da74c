import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { AgentNodeAttestor } from '../../../../src/spire/host/types.js';
import { startInProcess } from '../../../support/in-process-plugin.js';

const attestor: AgentNodeAttestor = {
  configure: () => Promise.resolve(),
  begin: () => Promise.reject(new Error('unused')),
};

describe('GRPCController/Shutdown', () => {
  it('replies, then stops the server and removes the socket', async () => {
    const p = await startInProcess({ side: 'agent', attestor });
    assert.ok(existsSync(p.handle.socketPath));
    p.host.startBroker();
    p.host.startStdio();
    const r = await p.host.shutdown();
    assert.equal(r.graceful, true);
    await p.handle.closed;
    assert.equal(existsSync(p.handle.socketPath), false);
    assert.ok(p.logs().some((l) => l['@message'] === 'Shutdown requested by the host'));
    // stop() after Shutdown is the same stop, not a second one.
    await p.handle.stop();
  });
});

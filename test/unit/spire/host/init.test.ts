import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { AgentNodeAttestor, ServerNodeAttestor } from '../../../../src/spire/host/types.js';
import { AGENT_HOST_SERVICES, SERVER_HOST_SERVICES } from '../../../support/fake-spire-host.js';
import { rawClient, rawUnary, startInProcess } from '../../../support/in-process-plugin.js';

const server: ServerNodeAttestor = {
  configure: () => Promise.resolve(),
  attest: () => Promise.reject(new Error('unused')),
};
const agent: AgentNodeAttestor = {
  configure: () => Promise.resolve(),
  begin: () => Promise.reject(new Error('unused')),
};

describe('spire.service.private.init.v1.Init', () => {
  it('lists exactly the server NodeAttestor and Config', async () => {
    const p = await startInProcess({ side: 'server', attestor: server });
    try {
      assert.deepEqual(await p.host.init(SERVER_HOST_SERVICES), [
        'spire.plugin.server.nodeattestor.v1.NodeAttestor',
        'spire.service.common.config.v1.Config',
      ]);
      await p.host.deinit();
      assert.ok(
        p.logs().some((l) => l['@message'] === 'Init' && String(l.host_services).includes('AgentStore')),
      );
    } finally {
      await p.close();
    }
  });

  it('lists exactly the agent NodeAttestor and Config', async () => {
    const p = await startInProcess({ side: 'agent', attestor: agent });
    try {
      assert.deepEqual(await p.host.init(AGENT_HOST_SERVICES), [
        'spire.plugin.agent.nodeattestor.v1.NodeAttestor',
        'spire.service.common.config.v1.Config',
      ]);
      await p.host.deinit();
      const client = rawClient(p.handle.socketPath);
      await assert.rejects(
        rawUnary(client, '/spire.service.private.init.v1.Init/Init', Buffer.from([0x0a, 0x05, 0x61])),
        (e: ServiceError) => e.code === status.INVALID_ARGUMENT,
      );
      client.close();
    } finally {
      await p.close();
    }
  });
});

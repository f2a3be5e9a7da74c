import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus as S } from '../../../../src/gen/grpc/health/v1/health.js';
import type { ServerNodeAttestor } from '../../../../src/spire/host/types.js';
import {
  rawClient,
  rawUnary,
  startInProcess,
  type InProcessPlugin,
} from '../../../support/in-process-plugin.js';

const attestor: ServerNodeAttestor = {
  configure: () => Promise.resolve(),
  attest: () => Promise.reject(new Error('unused')),
};

describe('grpc.health.v1.Health', () => {
  let p: InProcessPlugin;
  before(async () => {
    p = await startInProcess({ side: 'server', attestor });
  });
  after(async () => {
    await p.close();
  });

  it('reports "plugin" and "" SERVING', async () => {
    assert.equal(await p.host.health('plugin'), S.SERVING);
    assert.equal(await p.host.health(''), S.SERVING);
  });

  it('answers NOT_FOUND for another service', async () => {
    await assert.rejects(p.host.health('nope'), (e: ServiceError) => e.code === status.NOT_FOUND);
  });

  it('answers a malformed request with InvalidArgument', async () => {
    const client = rawClient(p.handle.socketPath);
    await assert.rejects(
      rawUnary(client, '/grpc.health.v1.Health/Check', Buffer.from([0x0a, 0xff])),
      (e: ServiceError) => {
        assert.equal(e.code, status.INVALID_ARGUMENT);
        assert.match(e.details, /^malformed request message/);
        return true;
      },
    );
    client.close();
  });

  it('streams the status to watchers, SERVICE_UNKNOWN for unknown services, NOT_SERVING at stop', async () => {
    const other = await startInProcess({ side: 'server', attestor });
    const seen: S[] = [];
    const unknown: S[] = [];
    const w = other.host.watchHealth('plugin');
    w.on('data', (m: { status: S }) => seen.push(m.status));
    w.on('error', () => undefined);
    const u = other.host.watchHealth('other');
    u.on('data', (m: { status: S }) => unknown.push(m.status));
    u.on('error', () => undefined);
    await Promise.all([once(w, 'data'), once(u, 'data')]);
    assert.deepEqual(seen, [S.SERVING]);
    assert.deepEqual(unknown, [S.SERVICE_UNKNOWN]);
    const ended = once(w, 'status');
    await other.handle.stop();
    await ended;
    assert.deepEqual(seen, [S.SERVING, S.NOT_SERVING]);
    other.host.close();
  });
});

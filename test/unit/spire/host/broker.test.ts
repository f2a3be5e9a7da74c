import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus as S } from '../../../../src/gen/grpc/health/v1/health.js';
import type { ServerNodeAttestor } from '../../../../src/spire/host/types.js';
import {
  finalStatus,
  rawBidi,
  rawClient,
  startInProcess,
  type InProcessPlugin,
} from '../../../support/in-process-plugin.js';

const attestor: ServerNodeAttestor = {
  configure: () => Promise.resolve(),
  attest: () => Promise.reject(new Error('unused')),
};

describe('GRPCBroker/StartStream', () => {
  let p: InProcessPlugin;
  before(async () => {
    p = await startInProcess({ side: 'server', attestor });
  });
  after(async () => {
    await p.close();
  });

  it('accepts the stream, remembers the ConnInfo, sends nothing and stays open', async () => {
    p.host.startBroker('/tmp/plugin123');
    await p.waitForLog(
      (l) => l['@message'] === 'Host broker offered a connection' && l.address === '/tmp/plugin123',
    );
    assert.deepEqual(p.handle.brokerConnInfo(), [
      { serviceId: 1, network: 'unix', address: '/tmp/plugin123' },
    ]);
    // A later call on the same connection has been answered: anything the plugin did with the
    // broker stream after the ConnInfo (an end, a reply) reached us before this answer did.
    assert.equal(await p.host.health('plugin'), S.SERVING);
    assert.equal(p.host.brokerStatus, undefined, 'still open');
  });

  it('ignores a malformed message and keeps the stream open', async () => {
    const client = rawClient(p.handle.socketPath);
    const call = rawBidi(client, '/plugin.GRPCBroker/StartStream');
    const result = finalStatus(call);
    call.write(Buffer.from([0xff, 0xff, 0xff]));
    await p.waitForLog(
      (l) => l['@message'] === 'Ignoring a malformed broker message' && l['@level'] === 'warn',
    );
    call.end();
    const r = await result;
    assert.equal(r.code, status.OK);
    assert.deepEqual(r.received, []);
    client.close();
  });

  it('ends the stream with OK when the plugin stops', async () => {
    const other = await startInProcess({ side: 'server', attestor });
    other.host.startBroker();
    // The plugin has the stream (it logged the ConnInfo) before it is told to stop.
    await other.waitForLog((l) => l['@message'] === 'Host broker offered a connection');
    await other.handle.stop();
    assert.equal(await other.host.brokerEnded, status.OK);
    other.host.close();
  });

  it('remembers at most 16 ConnInfos', async () => {
    const client = rawClient(p.handle.socketPath);
    const { ConnInfo } = await import('../../../../src/gen/plugin/broker.js');
    const call = rawBidi(client, '/plugin.GRPCBroker/StartStream');
    const result = finalStatus(call);
    for (let i = 0; i < 40; i++) {
      call.write(Buffer.from(ConnInfo.encode({ serviceId: i, network: 'unix', address: `/a${i}` }).finish()));
    }
    call.end();
    await result;
    const seen = p.handle.brokerConnInfo();
    assert.equal(seen.length, 16);
    assert.equal(seen.at(-1)?.serviceId, 39);
    client.close();
  });
});

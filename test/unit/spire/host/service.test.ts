import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventEmitter } from 'node:events';
import { GRPCBrokerService } from '../../../../src/gen/plugin/broker.js';
import { ConfigService } from '../../../../src/gen/spire/service/common/config/v1/config.js';
import { isAttestorError } from '../../../../src/errors.js';
import { OpenCalls, bindService, requireDecoded, serviceName } from '../../../../src/spire/host/service.js';

describe('serviceName', () => {
  it('takes the fully qualified name from the method paths', () => {
    assert.equal(serviceName(ConfigService), 'spire.service.common.config.v1.Config');
    assert.equal(serviceName(GRPCBrokerService), 'plugin.GRPCBroker');
    assert.throws(() => serviceName({}), /without a method path/);
  });
});

describe('bindService', () => {
  it('decodes requests without ever throwing', () => {
    const b = bindService(GRPCBrokerService, { startStream: () => undefined });
    const m = b.definition.startStream;
    assert.ok(m);
    const good: unknown = m.requestDeserialize(
      Buffer.from(
        GRPCBrokerService.startStream.requestSerialize({ serviceId: 1, network: 'unix', address: '/x' }),
      ),
    );
    assert.deepEqual(good, {
      ok: true,
      value: { serviceId: 1, network: 'unix', address: '/x', knock: undefined },
    });
    const bad = m.requestDeserialize(Buffer.from([0x0f])) as { ok: boolean; error: string };
    assert.equal(bad.ok, false);
    assert.equal(typeof bad.error, 'string');
    assert.equal(b.name, 'plugin.GRPCBroker');
  });

  it('requireDecoded turns a failure into ERR_INPUT (InvalidArgument)', () => {
    assert.equal(requireDecoded({ ok: true, value: 5 }), 5);
    assert.throws(
      () => requireDecoded({ ok: false, error: 'truncated' }),
      (e: unknown) => isAttestorError(e, 'ERR_INPUT') && e.message === 'malformed request message: truncated',
    );
  });
});

describe('OpenCalls', () => {
  it('ends every open call once and forgets closed ones', () => {
    const open = new OpenCalls();
    const ended: string[] = [];
    const mk = (name: string, throws = false): EventEmitter & { end(): void } =>
      Object.assign(new EventEmitter(), {
        end: () => {
          ended.push(name);
          if (throws) throw new Error('already destroyed');
        },
      });
    const a = mk('a');
    const b = mk('b', true);
    const c = mk('c');
    open.add(a);
    open.add(b);
    open.add(c);
    c.emit('close');
    assert.equal(open.size, 2);
    open.endAll();
    assert.deepEqual(ended, ['a', 'b']);
    assert.equal(open.size, 0);
  });
});

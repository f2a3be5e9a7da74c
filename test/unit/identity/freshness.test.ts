import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OID } from '../../../src/x509/oids.js';
import { defaultRenewBeforeMs, isReusable } from '../../../src/identity/freshness.js';
import type { Freshness, FreshnessOptions } from '../../../src/identity/freshness.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const t0 = new Date('2026-05-01T00:00:00Z');
const at = (ms: number): Date => new Date(t0.getTime() + ms);

const identity = {
  nodeName: 'n1' as string | undefined,
  subject: [
    [{ type: OID.organization, value: 'system:nodes' }],
    [{ type: OID.commonName, value: 'system:node:n1' }],
  ],
  keyType: 'ecdsa-p256' as const,
  notBefore: t0,
  notAfter: at(3 * HOUR),
};

function reason(f: Freshness): string {
  assert.equal(f.reusable, false);
  return f.reason;
}

describe('isReusable', () => {
  const opts = (o: Partial<FreshnessOptions> = {}): FreshnessOptions => ({
    nodeName: 'n1',
    now: at(HOUR),
    ...o,
  });

  it('reuses a certificate for this node inside the first two thirds of its life', () => {
    const f = isReusable(identity, opts());
    assert.equal(f.reusable, true);
    assert.deepEqual(f.renewAt, at(2 * HOUR));
    assert.equal(isReusable(identity, opts({ now: t0 })).reusable, true, 'NotBefore is inclusive');
    assert.equal(isReusable(identity, opts({ now: at(2 * HOUR - 1) })).reusable, true);
  });

  it('renews from NotAfter - renewBefore, and at or after NotAfter it is expired', () => {
    assert.equal(reason(isReusable(identity, opts({ now: at(2 * HOUR) }))), 'near-expiry');
    assert.equal(reason(isReusable(identity, opts({ now: at(3 * HOUR - 1) }))), 'near-expiry');
    assert.equal(reason(isReusable(identity, opts({ now: at(3 * HOUR) }))), 'expired');
    assert.equal(reason(isReusable(identity, opts({ now: at(-1) }))), 'not-yet-valid');
  });

  it('takes an explicit renewBeforeMs', () => {
    assert.equal(isReusable(identity, opts({ now: at(2.5 * HOUR), renewBeforeMs: 10 * MIN })).reusable, true);
    assert.equal(
      reason(isReusable(identity, opts({ now: at(HOUR), renewBeforeMs: 2 * HOUR }))),
      'near-expiry',
    );
    assert.equal(isReusable(identity, opts({ now: at(3 * HOUR - 1), renewBeforeMs: 0 })).reusable, true);
  });

  it('defaults to a third of the lifetime, never under a minute', () => {
    assert.equal(defaultRenewBeforeMs(t0, at(3 * HOUR)), HOUR);
    assert.equal(defaultRenewBeforeMs(t0, at(90_000)), MIN);
    assert.equal(defaultRenewBeforeMs(t0, at(2 * MIN)), MIN);
  });

  it('does not reuse a certificate for another node, of another kind, or with another key type', () => {
    const other = isReusable({ ...identity, nodeName: 'n2' }, opts());
    assert.equal(reason(other), 'other-node');
    assert.match(other.reusable ? '' : other.message, /system:node:n2, not system:node:n1/);
    assert.equal(reason(isReusable({ ...identity, nodeName: undefined }, opts())), 'not-node-certificate');
    assert.equal(reason(isReusable(identity, opts({ keyType: 'rsa-2048' }))), 'other-key-type');
    assert.equal(isReusable(identity, opts({ keyType: 'ecdsa-p256' })).reusable, true);
  });
});

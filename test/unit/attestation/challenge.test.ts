import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeChallenge, encodeChallenge } from '../../../src/attestation/challenge.js';
import { expectError, isOneOf } from './helpers.js';

const nonce = Buffer.alloc(32, 7);
const b64 = nonce.toString('base64');
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

describe('encodeChallenge', () => {
  it('writes the RSA challenge as Go json.Marshal does', () => {
    assert.equal(
      encodeChallenge({ kind: 'rsa', nonce }).toString(),
      `{"rsa_signature":{"nonce":"${b64}"},"ecdsa_signature":null}`,
    );
  });

  it('writes the ECDSA challenge as Go json.Marshal does', () => {
    assert.equal(
      encodeChallenge({ kind: 'ecdsa', nonce }).toString(),
      `{"rsa_signature":null,"ecdsa_signature":{"nonce":"${b64}"}}`,
    );
  });
});

describe('decodeChallenge', () => {
  it('round-trips both kinds', () => {
    assert.deepEqual(decodeChallenge(encodeChallenge({ kind: 'rsa', nonce })), { kind: 'rsa', nonce });
    assert.deepEqual(decodeChallenge(encodeChallenge({ kind: 'ecdsa', nonce })), { kind: 'ecdsa', nonce });
  });

  it('accepts an omitted null member', () => {
    assert.deepEqual(decodeChallenge(json({ ecdsa_signature: { nonce: b64 } })), { kind: 'ecdsa', nonce });
  });

  const rejects: [string, unknown, RegExp][] = [
    [
      'neither member',
      { rsa_signature: null, ecdsa_signature: null },
      /neither "rsa_signature" nor "ecdsa_signature"/,
    ],
    ['both members', { rsa_signature: { nonce: b64 }, ecdsa_signature: { nonce: b64 } }, /has both/],
    ['an unknown key', { rsa_signature: { nonce: b64 }, x: 1 }, /unexpected key "x"/],
    ['an unknown inner key', { rsa_signature: { nonce: b64, extra: 1 } }, /unexpected key "extra"/],
    ['a non-object member', { rsa_signature: 'x' }, /"rsa_signature" must be a JSON object/],
    ['no nonce', { rsa_signature: {} }, /has no "nonce"/],
    [
      'a short nonce',
      { rsa_signature: { nonce: Buffer.alloc(31).toString('base64') } },
      /is 31 bytes; it must be 32/,
    ],
    [
      'a long nonce',
      { ecdsa_signature: { nonce: Buffer.alloc(33).toString('base64') } },
      /is 33 bytes; it must be 32/,
    ],
    ['a non-base64 nonce', { ecdsa_signature: { nonce: '!'.repeat(44) } }, /not standard base64/],
    ['a numeric nonce', { ecdsa_signature: { nonce: 5 } }, /must be a base64 string, not a number/],
  ];
  for (const [name, value, message] of rejects)
    it(`refuses ${name}`, () => {
      expectError(() => decodeChallenge(json(value)), 'ERR_PAYLOAD', message);
    });

  it('refuses truncated, empty and oversized input', () => {
    const bytes = encodeChallenge({ kind: 'rsa', nonce });
    for (let n = 0; n < bytes.length; n++)
      expectError(() => decodeChallenge(bytes.subarray(0, n)), 'ERR_PAYLOAD');
    expectError(() => decodeChallenge(Buffer.alloc(5000, 0x20)), 'ERR_PAYLOAD', /limit is 4096/);
  });

  it('never throws anything but ERR_PAYLOAD on random input', () => {
    const check = (input: Uint8Array): void => {
      try {
        decodeChallenge(input);
      } catch (err) {
        assert.ok(isOneOf(err, 'ERR_PAYLOAD'), String(err));
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), check), { numRuns: 300 });
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        check(json(v));
      }),
      { numRuns: 300 },
    );
    const member = fc.oneof(
      fc.constant(null),
      fc.record({ nonce: fc.oneof(fc.base64String(), fc.string()) }, { requiredKeys: [] }),
      fc.jsonValue(),
    );
    fc.assert(
      fc.property(
        fc.record({ rsa_signature: member, ecdsa_signature: member }, { requiredKeys: [] }),
        (v) => {
          check(json(v));
        },
      ),
      { numRuns: 300 },
    );
  });
});

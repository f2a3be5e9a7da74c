import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeResponse, encodeResponse } from '../../../src/attestation/response.js';
import { expectError, isOneOf } from './helpers.js';

const nonce = Buffer.alloc(32, 9);
const b64 = (b: Buffer): string => b.toString('base64');
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

describe('encodeResponse', () => {
  it('writes the RSA response as Go json.Marshal does', () => {
    const signature = Buffer.alloc(256, 1);
    assert.equal(
      encodeResponse({ kind: 'rsa', nonce, signature }).toString(),
      `{"rsa_signature":{"nonce":"${b64(nonce)}","signature":"${b64(signature)}"},"ecdsa_signature":null}`,
    );
  });

  it('writes the ECDSA response as Go json.Marshal does', () => {
    const r = Buffer.alloc(31, 2);
    const s = Buffer.alloc(32, 3);
    assert.equal(
      encodeResponse({ kind: 'ecdsa', nonce, r, s }).toString(),
      `{"rsa_signature":null,"ecdsa_signature":{"nonce":"${b64(nonce)}","r":"${b64(r)}","s":"${b64(s)}"}}`,
    );
  });
});

describe('decodeResponse', () => {
  it('round-trips both kinds', () => {
    const rsa = { kind: 'rsa', nonce, signature: Buffer.alloc(256, 1) } as const;
    const ecdsa = { kind: 'ecdsa', nonce, r: Buffer.alloc(31, 2), s: Buffer.alloc(32, 3) } as const;
    assert.deepEqual(decodeResponse(encodeResponse(rsa)), rsa);
    assert.deepEqual(decodeResponse(encodeResponse(ecdsa)), ecdsa);
  });

  const ecdsa = (inner: Record<string, unknown>): unknown => ({
    rsa_signature: null,
    ecdsa_signature: inner,
  });
  const good = { nonce: b64(nonce), r: b64(Buffer.alloc(32, 1)), s: b64(Buffer.alloc(32, 1)) };
  const rejects: [string, unknown, RegExp][] = [
    ['"{}" (the 2018 test case)', {}, /neither "rsa_signature" nor "ecdsa_signature"/],
    [
      'both members',
      { rsa_signature: { nonce: b64(nonce), signature: 'AA==' }, ecdsa_signature: good },
      /has both/,
    ],
    ['an RSA response without signature', { rsa_signature: { nonce: b64(nonce) } }, /has no "signature"/],
    [
      'an empty RSA signature',
      { rsa_signature: { nonce: b64(nonce), signature: '' } },
      /"signature" is empty/,
    ],
    [
      'an oversized RSA signature',
      { rsa_signature: { nonce: b64(nonce), signature: b64(Buffer.alloc(1025)) } },
      /longer than 1024 bytes/,
    ],
    ['an ECDSA response without s', ecdsa({ nonce: good.nonce, r: good.r }), /has no "s"/],
    ['an empty r', ecdsa({ ...good, r: '' }), /"r" is empty/],
    ['an oversized s', ecdsa({ ...good, s: b64(Buffer.alloc(67, 1)) }), /"s" is longer than 66 bytes/],
    [
      'a 16-byte response nonce',
      ecdsa({ ...good, nonce: b64(Buffer.alloc(16)) }),
      /"nonce" is 16 bytes; it must be 32/,
    ],
    ['a challenge-shaped response', ecdsa({ nonce: good.nonce }), /has no "r"/],
    ['an extra inner key', ecdsa({ ...good, t: 'AA==' }), /unexpected key "t"/],
    ['URL-safe base64', ecdsa({ ...good, r: '_-__' }), /"r" is not standard base64/],
  ];
  for (const [name, value, message] of rejects)
    it(`refuses ${name}`, () => {
      expectError(() => decodeResponse(json(value)), 'ERR_PAYLOAD', message);
    });

  it('refuses "" (the 2018 test case) and every truncation', () => {
    expectError(() => decodeResponse(Buffer.alloc(0)), 'ERR_PAYLOAD', /is empty/);
    const bytes = encodeResponse({ kind: 'ecdsa', nonce, r: Buffer.alloc(32, 1), s: Buffer.alloc(32, 2) });
    for (let n = 0; n < bytes.length; n++)
      expectError(() => decodeResponse(bytes.subarray(0, n)), 'ERR_PAYLOAD');
  });

  it('never throws anything but ERR_PAYLOAD on random input', () => {
    const check = (input: Uint8Array): void => {
      try {
        decodeResponse(input);
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
    const field = fc.oneof(fc.base64String({ maxLength: 120 }), fc.string(), fc.integer(), fc.constant(null));
    const member = fc.oneof(
      fc.constant(null),
      fc.record({ nonce: field, signature: field, r: field, s: field }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(
        fc.record({ rsa_signature: member, ecdsa_signature: member }, { requiredKeys: [] }),
        (v) => {
          check(json(v));
        },
      ),
      { numRuns: 500 },
    );
  });
});

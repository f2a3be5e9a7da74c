import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodePayload, DEFAULT_PAYLOAD_LIMITS, encodePayload } from '../../../src/attestation/payload.js';
import { expectError, isOneOf } from './helpers.js';

const der1 = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]);
const der2 = Buffer.from([0x30, 0x00]);
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

describe('encodePayload', () => {
  it('writes exactly what Go json.Marshal writes for x509pop AttestationData', () => {
    assert.equal(
      encodePayload({ certificates: [der1, der2] }).toString(),
      '{"certificates":["MAMCAQE=","MAA="]}',
    );
  });

  it('adds the cluster after the certificates', () => {
    assert.equal(
      encodePayload({ certificates: [der1], cluster: 'prod-1' }).toString(),
      '{"certificates":["MAMCAQE="],"cluster":"prod-1"}',
    );
  });

  it('refuses an empty chain', () => {
    expectError(() => encodePayload({ certificates: [] }), 'ERR_PAYLOAD', /at least one certificate/);
  });
});

describe('decodePayload', () => {
  it('round-trips', () => {
    const decoded = decodePayload(encodePayload({ certificates: [der1, der2], cluster: 'a' }));
    assert.deepEqual(decoded, { certificates: [der1, der2], cluster: 'a' });
    assert.deepEqual(decodePayload(encodePayload({ certificates: [der1] })), { certificates: [der1] });
  });

  const rejects: [string, Buffer, RegExp][] = [
    ['empty input', Buffer.alloc(0), /payload is empty/],
    ['invalid JSON', Buffer.from('{"certificates":'), /not valid JSON/],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), /not valid UTF-8/],
    ['an array', json([]), /must be a JSON object, not an array/],
    ['null', json(null), /must be a JSON object, not null/],
    ['a string', json('x'), /must be a JSON object, not a string/],
    ['no certificates key', json({}), /no "certificates" key/],
    ['null certificates', json({ certificates: null }), /must be an array, not null/],
    ['empty certificates', json({ certificates: [] }), /is empty: no certificate to attest/],
    [
      'a non-string certificate',
      json({ certificates: [1] }),
      /certificate 0 \(the leaf\) must be a base64 string, not a number/,
    ],
    ['an empty certificate', json({ certificates: [''] }), /certificate 0 \(the leaf\) is empty/],
    ['URL-safe base64', json({ certificates: ['MA_-'] }), /not standard base64/],
    ['unpadded base64', json({ certificates: ['MAMCAQE'] }), /not standard base64/],
    ['base64 with whitespace', json({ certificates: ['MAMC AQE='] }), /not standard base64/],
    ['non-canonical padding bits', json({ certificates: ['MAMCAQF='] }), /not standard base64/],
    ['an unknown key', json({ certificates: ['MAA='], extra: 1 }), /unexpected key "extra"/],
    [
      'a __proto__ key',
      Buffer.from('{"certificates":["MAA="],"__proto__":{}}'),
      /unexpected key "__proto__"/,
    ],
    ['a non-string cluster', json({ certificates: ['MAA='], cluster: 5 }), /"cluster" must be a string/],
    [
      'a null cluster',
      json({ certificates: ['MAA='], cluster: null }),
      /"cluster" must be a string, not null/,
    ],
    [
      'an empty cluster',
      json({ certificates: ['MAA='], cluster: '' }),
      /not a valid cluster name: must not be empty/,
    ],
    ['a cluster with a slash', json({ certificates: ['MAA='], cluster: 'a/b' }), /not a valid cluster name/],
    ['a ".." cluster', json({ certificates: ['MAA='], cluster: '..' }), /not a valid cluster name/],
  ];
  for (const [name, input, message] of rejects)
    it(`refuses ${name}`, () => {
      expectError(() => decodePayload(input), 'ERR_PAYLOAD', message);
    });

  it('refuses a payload over the byte limit', () => {
    const big = json({ certificates: ['A'.repeat(DEFAULT_PAYLOAD_LIMITS.maxBytes)] });
    expectError(() => decodePayload(big), 'ERR_PAYLOAD', /is \d+ bytes; the limit is 65536/);
    expectError(
      () => decodePayload(encodePayload({ certificates: [der1] }), { maxBytes: 10 }),
      'ERR_PAYLOAD',
      /limit is 10/,
    );
  });

  it('refuses more than 1 + maxIntermediates certificates', () => {
    const five = encodePayload({ certificates: Array<Buffer>(5).fill(der1) });
    assert.equal(decodePayload(five).certificates.length, 5);
    const six = encodePayload({ certificates: Array<Buffer>(6).fill(der1) });
    expectError(
      () => decodePayload(six),
      'ERR_PAYLOAD',
      /6 certificates; the limit is 5 \(the leaf and at most 4 intermediates\)/,
    );
    expectError(
      () => decodePayload(encodePayload({ certificates: [der1, der1] }), { maxIntermediates: 0 }),
      'ERR_PAYLOAD',
      /limit is 1/,
    );
  });

  it('refuses a certificate over the DER size limit', () => {
    const limit = DEFAULT_PAYLOAD_LIMITS.maxCertificateBytes;
    assert.equal(
      decodePayload(encodePayload({ certificates: [Buffer.alloc(limit, 1)] })).certificates[0]!.length,
      limit,
    );
    expectError(
      () => decodePayload(encodePayload({ certificates: [Buffer.alloc(limit + 1, 1)] })),
      'ERR_PAYLOAD',
      /certificate 0 \(the leaf\) is 16385 DER bytes; the limit is 16384/,
    );
    expectError(
      () => decodePayload(encodePayload({ certificates: [der1, Buffer.alloc(limit + 10, 1)] })),
      'ERR_PAYLOAD',
      /certificate 1 is larger than the limit of 16384 DER bytes/,
    );
  });

  describe('properties', () => {
    const onlyPayloadErrors = (input: Uint8Array): void => {
      try {
        decodePayload(input);
      } catch (err) {
        assert.ok(isOneOf(err, 'ERR_PAYLOAD'), String(err));
      }
    };

    it('random bytes never throw anything but ERR_PAYLOAD', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), onlyPayloadErrors), { numRuns: 500 });
    });

    it('random JSON never throws anything but ERR_PAYLOAD', () => {
      fc.assert(
        fc.property(fc.jsonValue(), (v) => {
          onlyPayloadErrors(json(v));
        }),
        { numRuns: 500 },
      );
    });

    it('near-miss payloads never throw anything but ERR_PAYLOAD', () => {
      const value = fc.oneof(
        fc.string(),
        fc.base64String(),
        fc.integer(),
        fc.constant(null),
        fc.array(fc.string()),
      );
      const shape = fc.record(
        {
          certificates: fc.oneof(fc.array(fc.oneof(fc.base64String(), value), { maxLength: 7 }), value),
          cluster: value,
        },
        { requiredKeys: [] },
      );
      fc.assert(
        fc.property(shape, (v) => {
          onlyPayloadErrors(json(v));
        }),
        { numRuns: 500 },
      );
    });

    it('every truncation of a valid payload is ERR_PAYLOAD', () => {
      fc.assert(
        fc.property(
          fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 5 }),
          fc.option(fc.stringMatching(/^[a-z0-9-]{1,20}$/), { nil: undefined }),
          (certs, cluster) => {
            const certificates = certs.map((c) => Buffer.from(c));
            const bytes = encodePayload(cluster === undefined ? { certificates } : { certificates, cluster });
            assert.deepEqual(
              decodePayload(bytes),
              cluster === undefined ? { certificates } : { certificates, cluster },
            );
            for (let n = 0; n < bytes.length; n++)
              expectError(() => decodePayload(bytes.subarray(0, n)), 'ERR_PAYLOAD');
          },
        ),
        { numRuns: 100 },
      );
    });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TAG, childrenOf, decodeOid, decodeString, parseDer } from '../../../src/x509/der.js';
import {
  bitString,
  derNull,
  directoryString,
  oid,
  sequence,
  set,
  smallInteger,
  tlv,
} from '../../../src/x509/der-write.js';

describe('DER writer', () => {
  it('writes minimal definite lengths that the strict reader accepts', () => {
    for (const length of [0, 1, 127, 128, 255, 256, 65535, 65536]) {
      const el = tlv(TAG.octetString, Buffer.alloc(length, 7));
      const header = length < 0x80 ? 2 : length < 0x100 ? 3 : length < 0x10000 ? 4 : 5;
      assert.equal(el.length, header + length, `length ${String(length)}`);
      const node = parseDer(el);
      assert.equal(node.tag, TAG.octetString);
      assert.equal(node.content.length, length);
    }
  });

  it('round-trips OIDs through the reader', () => {
    for (const dotted of [
      '2.5.4.3',
      '1.2.840.10045.4.3.2',
      '1.2.840.113549.1.1.11',
      '1.3.101.112',
      '2.999.1',
    ])
      assert.equal(decodeOid(parseDer(oid(dotted))), dotted);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 39 }),
        fc.array(fc.integer({ min: 0, max: 2 ** 40 }), { maxLength: 8 }),
        (a, b, rest) => {
          const dotted = [a, b, ...rest].join('.');
          assert.equal(decodeOid(parseDer(oid(dotted))), dotted);
        },
      ),
    );
  });

  it('refuses OIDs it cannot encode', () => {
    for (const bad of ['', '1', '3.1', '1.40', '1.2.x', '1.02', '1..2'])
      assert.throws(() => oid(bad), RangeError, bad);
  });

  it('writes small non-negative integers in two’s complement, minimal', () => {
    const cases: [number, number[]][] = [
      [0, [0]],
      [127, [0x7f]],
      [128, [0, 0x80]],
      [256, [1, 0]],
    ];
    for (const [value, content] of cases)
      assert.deepEqual(parseDer(smallInteger(value)), { tag: TAG.integer, content: Buffer.from(content) });
    assert.throws(() => smallInteger(-1), RangeError);
    assert.throws(() => smallInteger(0.5), RangeError);
  });

  it('picks PrintableString when it can, UTF8String otherwise, as Go does', () => {
    assert.equal(directoryString('system:node:a-1.b').at(0), TAG.printableString);
    for (const value of ['a_b', 'a@b', 'ü', 'a*b']) {
      const el = directoryString(value);
      assert.equal(el.at(0), TAG.utf8String, value);
      assert.equal(decodeString(parseDer(el)), value);
    }
  });

  it('nests sequences and sets, and writes NULL and whole-octet BIT STRINGs', () => {
    const el = sequence(set(derNull()), bitString(Buffer.from([1, 2])));
    const [s, b] = childrenOf(parseDer(el));
    assert.deepEqual(s, { tag: TAG.set, content: Buffer.from([0x05, 0x00]) });
    assert.deepEqual(b, { tag: TAG.bitString, content: Buffer.from([0, 1, 2]) });
  });
});

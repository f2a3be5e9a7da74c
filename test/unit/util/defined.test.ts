import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { definedOnly } from '../../../src/util/defined.js';

describe('definedOnly', () => {
  it('drops undefined values and keeps every other value, falsy ones included', () => {
    const r = definedOnly({ a: undefined, b: '', c: 0, d: false, e: null, f: 'x' });
    assert.deepEqual(r, { b: '', c: 0, d: false, e: null, f: 'x' });
    assert.equal(Object.hasOwn(r, 'a'), false);
  });
});

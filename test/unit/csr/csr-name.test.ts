import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { csrGenerateName } from '../../../src/csr/csr-name.js';
import { nodeNameProblem } from '../../../src/csr/profile.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe('csrGenerateName', () => {
  it('uses the first DNS label of the node name', () => {
    assert.equal(csrGenerateName('node-1.example.com'), 'node-csr-node-1-');
    assert.equal(csrGenerateName('worker'), 'node-csr-worker-');
  });

  it('cuts long labels so the completed name is one DNS label of at most 63 characters', () => {
    const name = csrGenerateName('a'.repeat(63));
    assert.equal(name, `node-csr-${'a'.repeat(48)}-`);
    assert.equal(`${name}x7k2q`.length, 63);
    // A cut that ends in '-' is trimmed, so the name never has '--' before the suffix.
    assert.equal(csrGenerateName(`${'b'.repeat(47)}-cdef`), `node-csr-${'b'.repeat(47)}-`);
  });

  it('gives a valid DNS label with any server suffix, for any valid node name', () => {
    const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
    const nodeName = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.'));
    const suffix = fc.stringMatching(/^[a-z0-9]{5}$/);
    fc.assert(
      fc.property(nodeName, suffix, (n, s) => {
        fc.pre(nodeNameProblem(n) === undefined);
        const full = `${csrGenerateName(n)}${s}`;
        assert.ok(full.length <= 63, full);
        assert.match(full, DNS_LABEL);
        assert.ok(full.startsWith('node-csr-'));
      }),
    );
  });
});

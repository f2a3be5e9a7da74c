/** The requester fields parseCsrObject now reads for the approver (spec.uid, groups, extra). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCsrObject } from '../../../src/kube/csr-api.js';

const base = {
  metadata: { name: 'c', resourceVersion: '1' },
  spec: { request: 'x', signerName: 's', usages: ['client auth'], username: 'u' },
};

describe('parseCsrObject: requester fields', () => {
  it('reads spec.uid, spec.groups and spec.extra when present, and leaves them out when not', () => {
    const c = parseCsrObject({
      ...base,
      spec: {
        ...base.spec,
        uid: 'sa-uid',
        groups: ['system:serviceaccounts', 'system:authenticated'],
        extra: { 'authentication.kubernetes.io/node-name': ['node-a'], empty: [] },
      },
    });
    assert.equal(c.spec.uid, 'sa-uid');
    assert.deepEqual(c.spec.groups, ['system:serviceaccounts', 'system:authenticated']);
    assert.deepEqual(c.spec.extra, { 'authentication.kubernetes.io/node-name': ['node-a'], empty: [] });
    const bare = parseCsrObject({ ...base, spec: { ...base.spec, extra: null, groups: null } });
    assert.equal('extra' in bare.spec, false);
    assert.equal('groups' in bare.spec, false);
    assert.equal('uid' in bare.spec, false);
  });

  it('refuses a malformed extra or groups (the API promises map[string][]string)', () => {
    for (const spec of [
      { extra: 'x' },
      { extra: ['x'] },
      { extra: { k: 'v' } },
      { extra: { k: [1] } },
      { groups: 'g' },
      { groups: [1] },
    ])
      assert.throws(
        () => parseCsrObject({ ...base, spec: { ...base.spec, ...spec } }),
        { code: 'ERR_KUBE_API' },
        JSON.stringify(spec),
      );
  });
});

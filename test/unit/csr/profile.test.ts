import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nodeNameFromSubject } from '../../../src/csr/profile.js';
import { formatSubject, type Rdn } from '../../../src/x509/name.js';
import { OID } from '../../../src/x509/oids.js';

describe('nodeNameFromSubject', () => {
  const o = (value: string) => ({ type: OID.organization, value });
  const cn = (value: string) => ({ type: OID.commonName, value });

  it('accepts exactly O=system:nodes then CN=system:node:<name>', () => {
    assert.equal(nodeNameFromSubject([[o('system:nodes')], [cn('system:node:n1')]]), 'n1');
  });

  it('rejects every other shape', () => {
    const bad: (readonly Rdn[])[] = [
      [],
      [[cn('system:node:n1')]],
      [[cn('system:node:n1')], [o('system:nodes')]],
      [[o('system:nodes'), cn('system:node:n1')]],
      [[o('system:nodes')], [o('system:nodes')], [cn('system:node:n1')]],
      [[o('system:nodes')], [cn('system:node:n1')], [{ type: '2.5.4.11', value: 'x' }]],
      [[o('system:masters')], [cn('system:node:n1')]],
      [[o('system:nodes')], [cn('system:node:')]],
      [[o('system:nodes')], [cn('node:n1')]],
      [[o('system:nodes')], [{ type: OID.commonName, value: undefined }]],
    ];
    for (const s of bad) assert.equal(nodeNameFromSubject(s), undefined, formatSubject(s));
  });
});

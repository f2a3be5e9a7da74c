import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { selectorValues } from '../../../src/attestation/selectors.js';
import { createCa, createNodeClientCert, type TestCert } from '../../support/pki.js';

const sha1 = (c: TestCert): string => createHash('sha1').update(c.der).digest('hex');

let root: TestCert;
let int: TestCert;
let leaf: TestCert;
before(async () => {
  root = await createCa('CN=root');
  int = await createCa('CN=int', { issuer: root });
  leaf = await createNodeClientCert(int, 'node-1', { serialHex: '0f00' });
});

describe('selectorValues', () => {
  it('formats the certificate selectors as x509pop does, plus cluster and node name; sorted', () => {
    const values = selectorValues({
      cluster: 'prod',
      nodeName: 'node-1',
      leaf: leaf.cert,
      paths: [[leaf.cert, int.cert, root.cert]],
    });
    assert.deepEqual(
      values,
      [
        'agent_node_name:node-1',
        `ca:fingerprint:${sha1(int)}`,
        `ca:fingerprint:${sha1(root)}`,
        'cluster:prod',
        'serialnumber:0f00',
        'subject:cn:system:node:node-1',
      ].sort(),
    );
  });

  it('adds node UID and labels, and de-duplicates fingerprints across paths', () => {
    const values = selectorValues({
      cluster: 'prod',
      nodeName: 'node-1',
      leaf: leaf.cert,
      paths: [
        [leaf.cert, int.cert, root.cert],
        [leaf.cert, int.cert],
      ],
      node: {
        uid: 'uid-1',
        labels: { 'topology.kubernetes.io/zone': 'eu-1a', 'node-role.kubernetes.io/worker': '' },
      },
    });
    assert.equal(values.filter((v) => v.startsWith('ca:fingerprint:')).length, 2);
    assert.ok(values.includes('agent_node_uid:uid-1'));
    assert.ok(values.includes('agent_node_label:topology.kubernetes.io/zone:eu-1a'));
    assert.ok(values.includes('agent_node_label:node-role.kubernetes.io/worker:'));
    assert.deepEqual(values, [...new Set(values)].sort());
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sequence, set, oid, directoryString, tlv } from '../../../src/x509/der-write.js';
import { TAG, parseDer, readTlv } from '../../../src/x509/der.js';
import { formatSubject, parseName, readName } from '../../../src/x509/name.js';
import { OID } from '../../../src/x509/oids.js';

const atv = (type: string, value: Buffer, ...extra: Buffer[]): Buffer => sequence(oid(type), value, ...extra);
const read = (name: Buffer) => readName(name, readTlv(name, 0, name.length, 'Name'), 'Name');

describe('readName', () => {
  it('reads RDNs in order, with their attributes in order', () => {
    const name = sequence(
      set(atv(OID.organization, directoryString('system:nodes'))),
      set(atv(OID.commonName, directoryString('a')), atv('2.5.4.11', directoryString('b'))),
    );
    const r = read(name);
    assert.deepEqual(r.rdns, [
      [{ type: OID.organization, value: 'system:nodes' }],
      [
        { type: OID.commonName, value: 'a' },
        { type: '2.5.4.11', value: 'b' },
      ],
    ]);
    assert.equal(r.printable, true);
    assert.equal(r.plain, true);
    assert.deepEqual(parseName(parseDer(name)), r.rdns);
  });

  it('decodes other string types but calls them neither printable nor plain', () => {
    const bmp = tlv(TAG.bmpString, Buffer.from('00e9', 'hex'));
    const r = read(sequence(set(atv(OID.commonName, bmp))));
    assert.deepEqual(r.rdns, [[{ type: OID.commonName, value: 'é' }]]);
    assert.equal(r.printable, false);
    assert.equal(r.plain, false);
  });

  it('takes a non-string value as plain but not printable (an issuer may have one)', () => {
    const r = read(sequence(set(atv('1.2.3.4', Buffer.from([0x02, 0x01, 0x05])))));
    assert.deepEqual(r.rdns, [[{ type: '1.2.3.4', value: undefined }]]);
    assert.equal(r.printable, false);
    assert.equal(r.plain, true);
  });

  it('reads an empty RDN and data after a value as Go does, but not as canonical', () => {
    for (const name of [
      sequence(set()),
      sequence(set(atv(OID.commonName, directoryString('a'), directoryString('extra')))),
    ]) {
      const r = read(name);
      assert.equal(r.printable, false);
      assert.equal(r.plain, false);
    }
  });

  it('refuses what is not a Name', () => {
    assert.throws(() => read(sequence(sequence())), /RDN: expected tag 0x31/);
    assert.throws(() => read(sequence(set(sequence(oid(OID.commonName))))), /attribute: no value/);
    assert.throws(
      () => read(sequence(set(sequence(directoryString('x'), directoryString('y'))))),
      /attribute type/,
    );
  });
});

describe('formatSubject', () => {
  const o = (value: string) => ({ type: OID.organization, value });
  const cn = (value: string) => ({ type: OID.commonName, value });

  it('formats subjects for messages', () => {
    assert.equal(
      formatSubject([[o('system:nodes')], [cn('system:node:n1')]]),
      'O=system:nodes, CN=system:node:n1',
    );
    assert.equal(formatSubject([[o('a'), { type: '1.2.3', value: undefined }]]), 'O=a + 1.2.3=(undecoded)');
    assert.equal(formatSubject([]), '(empty)');
  });
});

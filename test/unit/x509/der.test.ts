import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DerError,
  TAG,
  childrenOf,
  decodeOid,
  decodeString,
  decodeTime,
  expectTag,
  parseDer,
  readTlv,
} from '../../../src/x509/der.js';
import { isAttestorError } from '../../../src/errors.js';

describe('DER primitives', () => {
  const time = (tag: number, text: string): Date => decodeTime({ tag, content: Buffer.from(text, 'latin1') });

  it('decodes UTCTime with the RFC 5280 century rule and GeneralizedTime', () => {
    assert.deepEqual(time(TAG.utcTime, '491231235959Z'), new Date('2049-12-31T23:59:59Z'));
    assert.deepEqual(time(TAG.utcTime, '500101000000Z'), new Date('1950-01-01T00:00:00Z'));
    assert.deepEqual(time(TAG.generalizedTime, '20500101000000Z'), new Date('2050-01-01T00:00:00Z'));
  });

  it('rejects malformed times', () => {
    for (const [tag, text] of [
      [TAG.utcTime, '251301000000Z'],
      [TAG.utcTime, '250230000000Z'],
      [TAG.utcTime, '250101000060Z'],
      [TAG.utcTime, '2501010000Z'],
      [TAG.utcTime, '250101000000+0100'],
      [TAG.generalizedTime, '20250101000000.5Z'],
      [TAG.generalizedTime, '00490101000000Z'],
      [TAG.utf8String, '250101000000Z'],
    ] as const)
      assert.throws(
        () => time(tag, text),
        (err: unknown) => isAttestorError(err, 'ERR_INPUT'),
        text,
      );
  });

  it('decodes OIDs, including large arcs and the 2.x top arc', () => {
    const oid = (hex: string): string => decodeOid(parseDer(Buffer.from(hex, 'hex')));
    assert.equal(oid('06082b06010505070302'), '1.3.6.1.5.5.7.3.2');
    assert.equal(oid('0603551d25'), '2.5.29.37');
    assert.equal(oid('0603883703'), '2.999.3');
    assert.throws(
      () => oid('06022b86'),
      (err: unknown) => isAttestorError(err, 'ERR_INPUT'),
    );
  });

  it('decodes the directory string types', () => {
    const str = (tag: number, content: Buffer): string | undefined => decodeString({ tag, content });
    assert.equal(str(TAG.utf8String, Buffer.from('ünï', 'utf8')), 'ünï');
    assert.equal(str(TAG.printableString, Buffer.from('system:nodes')), 'system:nodes');
    assert.equal(str(TAG.bmpString, Buffer.from('0073003a00e9', 'hex')), 's:é');
    assert.equal(str(TAG.bmpString, Buffer.from('0073ff', 'hex')), undefined);
    assert.equal(str(TAG.universalString, Buffer.from('0001f600', 'hex')), '😀');
    assert.equal(str(TAG.universalString, Buffer.from('00110000', 'hex')), undefined);
    assert.equal(str(TAG.universalString, Buffer.from('000000', 'hex')), undefined);
    assert.equal(str(TAG.octetString, Buffer.from('x')), undefined);
  });

  it('rejects indefinite lengths, high tags and trailing data', () => {
    for (const hex of ['3080', '1f0100', '300000', '3002'])
      assert.throws(
        () => parseDer(Buffer.from(hex, 'hex')),
        (err: unknown) => isAttestorError(err, 'ERR_INPUT'),
        hex,
      );
  });
});

describe('the strict core', () => {
  it('refuses non-minimal lengths and OID arcs in the node view too', () => {
    for (const hex of ['3081010000', '30820000', '06028001'])
      assert.throws(
        () => {
          const node = parseDer(Buffer.from(hex, 'hex'));
          if (node.tag === TAG.oid) decodeOid(node);
        },
        (err: unknown) => isAttestorError(err, 'ERR_INPUT'),
        hex,
      );
  });

  it('names the element and the problem, for callers that re-raise it under their own code', () => {
    assert.throws(
      () => parseDer(Buffer.from('3081050000', 'hex'), 'issuer'),
      (err: unknown) =>
        err instanceof DerError &&
        err.problem === 'issuer: non-minimal length' &&
        err.message === 'malformed DER: issuer: non-minimal length',
    );
    assert.throws(
      () => childrenOf({ tag: TAG.oid, content: Buffer.alloc(0) }, 'Name'),
      (err: unknown) => err instanceof DerError && err.problem === 'Name: tag 0x6 is not constructed',
    );
    assert.throws(
      () => expectTag(undefined, TAG.sequence, 'validity'),
      (err: unknown) => err instanceof DerError && err.problem === 'validity: missing',
    );
  });

  it('reads a TLV within its container, reporting where the encoding starts and ends', () => {
    const buf = Buffer.from('ff3003020101', 'hex');
    assert.deepEqual(readTlv(buf, 1, buf.length, 'x'), { tag: 0x30, offset: 1, start: 3, end: 6 });
    assert.throws(() => readTlv(buf, 1, 5, 'x'), /x: content runs past its container/);
  });
});

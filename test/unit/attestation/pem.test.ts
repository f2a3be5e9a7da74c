import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePemCertificates } from '../../../src/attestation/pem.js';
import { expectError } from './helpers.js';

const block = (type: string, body: string): string =>
  `-----BEGIN ${type}-----\n${body}\n-----END ${type}-----\n`;

describe('parsePemCertificates', () => {
  it('reads CERTIFICATE blocks in order, with CRLF and wrapped lines', () => {
    const pem = `${block('CERTIFICATE', 'MAMC\nAQE=')}\r\n${block('CERTIFICATE', 'MAA=').replaceAll('\n', '\r\n')}`;
    assert.deepEqual(parsePemCertificates(pem, 'chain'), [
      Buffer.from('3003020101', 'hex'),
      Buffer.from('3000', 'hex'),
    ]);
  });

  const rejects: [string, string, RegExp][] = [
    ['an empty file', '', /has no PEM CERTIFICATE block/],
    ['plain text', 'hello', /has no PEM CERTIFICATE block/],
    [
      'a private key',
      block('PRIVATE KEY', 'MAA='),
      /block 1 is "PRIVATE KEY"; only CERTIFICATE blocks are allowed/,
    ],
    [
      'a key after the certificate',
      block('CERTIFICATE', 'MAA=') + block('EC PRIVATE KEY', 'MAA='),
      /block 2 is "EC PRIVATE KEY"/,
    ],
    [
      'mismatched markers',
      '-----BEGIN CERTIFICATE-----\nMAA=\n-----END X509 CRL-----\n',
      /begins "CERTIFICATE" but ends "X509 CRL"/,
    ],
    [
      'text before a block',
      `junk\n${block('CERTIFICATE', 'MAA=')}`,
      /text outside PEM blocks before block 1/,
    ],
    ['text after the blocks', `${block('CERTIFICATE', 'MAA=')}junk`, /text after the last PEM block/],
    ['a truncated block', '-----BEGIN CERTIFICATE-----\nMAA=\n', /no PEM CERTIFICATE block/],
    ['bad base64', block('CERTIFICATE', 'M!A='), /block 1 is not valid base64/],
    ['an empty block', block('CERTIFICATE', ''), /block 1 is not valid base64/],
  ];
  for (const [name, pem, message] of rejects)
    it(`refuses ${name} with ERR_INPUT`, () => {
      expectError(() => parsePemCertificates(pem, 'chain'), 'ERR_INPUT', message);
    });
});

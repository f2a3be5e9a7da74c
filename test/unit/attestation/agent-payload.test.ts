import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { buildAgentPayload } from '../../../src/attestation/agent-payload.js';
import { decodePayload } from '../../../src/attestation/payload.js';
import { createCa, createNodeClientCert, type TestCert } from '../../support/pki.js';
import { expectError } from './helpers.js';

let root: TestCert;
let int: TestCert;
let leaf: TestCert;
before(async () => {
  root = await createCa('CN=root');
  int = await createCa('CN=int', { issuer: root });
  leaf = await createNodeClientCert(int, 'node-1');
});

describe('buildAgentPayload', () => {
  it('turns the issued PEM chain into the x509pop payload with the cluster', () => {
    const payload = buildAgentPayload(leaf.pem + int.pem, 'prod');
    assert.deepEqual(decodePayload(payload), { certificates: [leaf.der, int.der], cluster: 'prod' });
    assert.match(payload.toString(), /^\{"certificates":\["[^"]+","[^"]+"\],"cluster":"prod"\}$/);
  });

  it('omits the cluster when none is configured (as SPIRE x509pop agents send)', () => {
    assert.equal(
      buildAgentPayload(leaf.pem, undefined).toString(),
      JSON.stringify({ certificates: [leaf.der.toString('base64')] }),
    );
  });

  it('refuses a chain that starts with the CA', () => {
    expectError(
      () => buildAgentPayload(int.pem + leaf.pem, 'prod'),
      'ERR_INPUT',
      /starts with a CA certificate \("CN=int"\); the node's own certificate must come first/,
    );
  });

  it('refuses too many certificates', () => {
    expectError(
      () => buildAgentPayload(leaf.pem + int.pem.repeat(5), 'prod'),
      'ERR_INPUT',
      /has 6 certificates; servers accept the leaf and at most 4 intermediates/,
    );
  });

  it('refuses a block that is not a certificate', () => {
    expectError(
      () => buildAgentPayload(leaf.pem + leaf.key.privateKeyPem, 'prod'),
      'ERR_INPUT',
      /"PRIVATE KEY"; only CERTIFICATE blocks/,
    );
    const bogus = '-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n';
    expectError(() => buildAgentPayload(bogus, 'prod'), 'ERR_INPUT', /certificate 1 does not parse/);
  });

  it('refuses an invalid cluster name with ERR_CONFIG', () => {
    expectError(() => buildAgentPayload(leaf.pem, 'a/b'), 'ERR_CONFIG', /cluster name "a\/b" is invalid/);
    expectError(() => buildAgentPayload(leaf.pem, ''), 'ERR_CONFIG', /must not be empty/);
  });
});

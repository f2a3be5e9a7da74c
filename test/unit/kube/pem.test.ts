import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { isAttestorError } from '../../../src/errors.js';
import { parseCertificates, parsePrivateKey } from '../../../src/kube/pem.js';
import { decodeIssuedChain } from '../../../src/kube/wait-for-certificate.js';
import type { CsrObject } from '../../../src/kube/csr-api.js';
import { createCa, type TestCert } from '../../support/pki.js';

/** A valid block, then enough BEGIN lines without END to pass the 4 MiB PEM limit. */
const hostile = (pem: string): Buffer => Buffer.from(pem + '-----BEGIN CERTIFICATE-----\n'.repeat(150_000));

function inputError(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    assert.ok(isAttestorError(err, 'ERR_INPUT'), String(err));
    return err.message;
  }
  return assert.fail('expected ERR_INPUT');
}

let ca: TestCert;
before(async () => {
  ca = await createCa('CN=kube-pem-ca');
});

describe('Kubernetes TLS material over the PEM size limit', () => {
  it('-ca-cert, the client key and kubeconfig data are refused naming the input and the limit', () => {
    const data = hostile(ca.pem);
    const source = { label: '-ca-cert /etc/ca.crt', file: '/etc/ca.crt' };
    assert.equal(
      inputError(() => parseCertificates(data, source)),
      `-ca-cert /etc/ca.crt: is ${data.length} bytes; the limit for PEM input is 4 MiB`,
    );
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    assert.match(
      inputError(() => parsePrivateKey(hostile(key), { label: 'kubeconfig users[0] client-key-data' })),
      /^kubeconfig users\[0\] client-key-data: is \d+ bytes; the limit for PEM input is 4 MiB$/,
    );
    // The same inputs without the junk are fine.
    assert.equal(parseCertificates(ca.pem, source).certificates.length, 1);
    assert.equal(parsePrivateKey(key, source).asymmetricKeyType, 'ec');
  });

  it('status.certificate over the limit is ERR_KUBE_API naming the CSR', () => {
    const csr: CsrObject = {
      metadata: { name: 'csr-1', resourceVersion: '1' },
      spec: { request: '', signerName: 's', usages: [] },
      status: { conditions: [], certificate: hostile(ca.pem).toString('base64') },
    };
    assert.throws(
      () => decodeIssuedChain(csr),
      (e: unknown) =>
        isAttestorError(e, 'ERR_KUBE_API') &&
        /^CSR csr-1: status\.certificate is \d+ bytes; the limit for PEM input is 4 MiB$/.test(e.message),
    );
  });
});

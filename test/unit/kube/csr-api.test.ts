import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isAttestorError } from '../../../src/errors.js';
import { csrBody, parseCsrObject, type CreateCsrRequest } from '../../../src/kube/csr-api.js';
import { createNodeCsr, nodeCsrPem, setup, type Setup } from './helpers.js';

describe('CSR API calls', () => {
  let s: Setup;
  before(async () => {
    s = await setup();
  });
  after(async () => {
    await s.close();
  });

  it('creates with generateName; spec.request is base64 of the PEM text; the server fills the requester', async () => {
    const pem = await nodeCsrPem('n1');
    const created = await s.client.createCsr({
      generateName: 'node-csr-',
      requestPem: pem,
      signerName: 'kubernetes.io/kube-apiserver-client-kubelet',
      usages: ['digital signature', 'client auth'],
      expirationSeconds: 3600,
    });
    assert.match(created.metadata.name, /^node-csr-[a-z0-9]{5}$/);
    assert.match(created.metadata.resourceVersion, /^\d+$/);
    assert.equal(created.spec.signerName, 'kubernetes.io/kube-apiserver-client-kubelet');
    assert.deepEqual(created.spec.usages, ['digital signature', 'client auth']);
    assert.equal(created.spec.expirationSeconds, 3600);
    assert.equal(created.spec.username, 'spire-agent');
    assert.deepEqual(created.status.conditions, []);
    assert.equal(Buffer.from(s.api.csr(created.metadata.name)!.spec.request, 'base64').toString(), pem);
  });

  it('creates with a fixed name; a second create is ERR_KUBE_API 409 AlreadyExists', async () => {
    const req: CreateCsrRequest = {
      name: 'fixed-name',
      requestPem: await nodeCsrPem(),
      signerName: 'kubernetes.io/kube-apiserver-client-kubelet',
      usages: ['digital signature', 'client auth'],
    };
    assert.equal((await s.client.createCsr(req)).metadata.name, 'fixed-name');
    await assert.rejects(s.client.createCsr(req), (err: unknown) => {
      assert.ok(isAttestorError(err, 'ERR_KUBE_API'));
      assert.equal(err.details.status, 409);
      assert.equal(err.details.reason, 'AlreadyExists');
      return true;
    });
  });

  it('surfaces 422 validation errors', async () => {
    await assert.rejects(
      s.client.createCsr({
        generateName: 'x-',
        requestPem: await nodeCsrPem(),
        signerName: 'kubernetes.io/kube-apiserver-client-kubelet',
        usages: ['digital signature', 'client auth'],
        expirationSeconds: 60,
      }),
      (err: unknown) =>
        isAttestorError(err, 'ERR_KUBE_API') &&
        err.details.status === 422 &&
        err.message.includes('less than 600 seconds'),
    );
  });

  it('gets, and deletes idempotently', async () => {
    const csr = await createNodeCsr(s.client);
    const got = await s.client.getCsr(csr.metadata.name);
    assert.equal(got.metadata.uid, csr.metadata.uid);
    await s.client.deleteCsr(csr.metadata.name);
    assert.equal(s.api.csr(csr.metadata.name), undefined);
    await s.client.deleteCsr(csr.metadata.name);
    await assert.rejects(
      s.client.getCsr(csr.metadata.name),
      (err: unknown) => isAttestorError(err, 'ERR_KUBE_API') && err.details.status === 404,
    );
  });

  it('needs exactly one of name and generateName', () => {
    const base = { requestPem: 'x', signerName: 's', usages: ['client auth'] };
    assert.throws(
      () => csrBody({ ...base, name: '' }),
      (err: unknown) => isAttestorError(err, 'ERR_INTERNAL'),
    );
    assert.deepEqual(csrBody({ ...base, name: 'n' }).metadata, { name: 'n' });
  });

  it('rejects malformed objects with ERR_KUBE_API', () => {
    for (const bad of [
      null,
      {},
      { metadata: { name: 'a' } },
      { metadata: { name: 'a', resourceVersion: '1' }, status: { conditions: {} } },
      { metadata: { name: 'a', resourceVersion: '1' }, status: { conditions: [{ status: 'True' }] } },
      { metadata: { name: 'a', resourceVersion: 1 } },
    ])
      assert.throws(
        () => parseCsrObject(bad),
        (err: unknown) => isAttestorError(err, 'ERR_KUBE_API'),
        JSON.stringify(bad),
      );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judge, type SignerPolicy } from '../../../src/signer/policy.js';
import { checkRequestKey } from '../../../src/signer/request-key.js';
import { parsePcrObject, terminalCondition } from '../../../src/signer/pcr-api.js';
import { pcrEntry, pcrRaw, stubRequest } from './helpers.js';

const policy: SignerPolicy = { allowServiceAccounts: new Set(['spire:spire-agent']), requirePodLabels: {} };

describe('signer policy', () => {
  it('issues for an allow-listed service account with a supported key', async () => {
    const { b64 } = await stubRequest();
    const v = judge(pcrEntry({ stub: b64 }).pcr, policy);
    assert.equal(v.kind, 'issue');
  });

  it('denies another service account, or the same name in another namespace', async () => {
    const { b64 } = await stubRequest();
    for (const shape of [{ serviceAccountName: 'default' }, { namespace: 'other' }]) {
      const v = judge(pcrEntry({ stub: b64, ...shape }).pcr, policy);
      assert.equal(v.kind === 'deny' ? v.reason : v.kind, 'ServiceAccountNotAllowed');
    }
  });

  it('denies unknown unverifiedUserAnnotations', async () => {
    const { b64 } = await stubRequest();
    const v = judge(pcrEntry({ stub: b64, annotations: { 'example.com/x': '1' } }).pcr, policy);
    assert.deepEqual(v.kind === 'deny' ? [v.reason, v.message] : [], [
      'InvalidUnverifiedUserAnnotations',
      'this signer recognizes no unverifiedUserAnnotations; remove example.com/x',
    ]);
  });

  it('denies Ed25519 and RSA 2048 keys with UnsupportedKeyType, suggesting ECDSAP256', async () => {
    for (const alg of ['ed25519', 'rsa-2048'] as const) {
      const { b64 } = await stubRequest(alg);
      const v = judge(pcrEntry({ stub: b64 }).pcr, policy);
      assert.equal(v.kind === 'deny' ? v.reason : v.kind, 'UnsupportedKeyType', alg);
      assert.match(v.kind === 'deny' ? v.message : '', /use keyType ECDSAP256/);
    }
  });

  it('accepts P-384 keys and names the key types', async () => {
    const p384 = checkRequestKey((await stubRequest('ecdsa-p384')).b64);
    assert.equal(p384.ok ? p384.keyType : '', 'ECDSAP384');
  });

  it('fails (not denies) a request whose stub does not read', () => {
    const v = judge(pcrEntry({ stub: Buffer.from('garbage').toString('base64') }).pcr, policy);
    assert.equal(v.kind === 'fail' ? v.reason : v.kind, 'InvalidRequest');
  });

  it('with required pod labels: checks the Pod read now', async () => {
    const { b64 } = await stubRequest();
    const p: SignerPolicy = { ...policy, requirePodLabels: { app: 'spire-agent' } };
    const pcr = pcrEntry({ stub: b64 }).pcr;
    const pod = { uid: 'pod-uid-1', nodeName: 'node-a', deleting: false, labels: { app: 'spire-agent' } };
    assert.equal(judge(pcr, p, pod).kind, 'issue');
    const reason = (v: ReturnType<typeof judge>): string => (v.kind === 'deny' ? v.reason : v.kind);
    assert.equal(reason(judge(pcr, p, undefined)), 'PodNotFound');
    assert.equal(reason(judge(pcr, p, { ...pod, uid: 'other' })), 'PodMismatch');
    assert.equal(reason(judge(pcr, p, { ...pod, nodeName: 'node-b' })), 'PodMismatch');
    assert.equal(reason(judge(pcr, p, { ...pod, deleting: true })), 'PodMismatch');
    assert.equal(reason(judge(pcr, p, { ...pod, labels: { app: 'other' } })), 'PodLabelsMismatch');
  });

  it('parses requests strictly and finds the terminal condition', async () => {
    const { b64 } = await stubRequest();
    assert.throws(() => parsePcrObject({ ...pcrRaw({ stub: b64 }), spec: {} }), /no valid spec.signerName/);
    const issued = parsePcrObject(
      pcrRaw({ stub: b64, status: { conditions: [{ type: 'Issued', status: 'True', reason: 'Issued' }] } }),
    );
    assert.equal(terminalCondition(issued)?.type, 'Issued');
    assert.equal(terminalCondition(parsePcrObject(pcrRaw({ stub: b64 }))), undefined);
  });
});

/** lookups.ts, approval.ts and events.ts against the fake API server. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { approvalBody, writeDecision } from '../../../src/approver/approval.js';
import type { Decision } from '../../../src/approver/decide.js';
import { decisionEvent, recordDecisionEvent } from '../../../src/approver/events.js';
import type { CsrEntry } from '../../../src/approver/informer.js';
import { kubeLookups } from '../../../src/approver/lookups.js';
import { getCsr } from '../../../src/kube/csr-api.js';
import { apiSetup, requestPem, type ApiSetup } from './helpers.js';

const APPROVE: Decision = {
  kind: 'approve',
  reason: 'NodeBindingVerified',
  message: 'ok',
  nodeName: 'node-a',
};
const DENY: Decision = { kind: 'deny', reason: 'NodeMismatch', message: 'no' };

describe('approver Kubernetes calls', () => {
  let s: ApiSetup;
  before(async () => {
    s = await apiSetup();
  });
  after(async () => {
    await s.close();
  });

  const entry = async (): Promise<CsrEntry> => {
    const created = await s.createCsr(await requestPem());
    const raw = (await s.kube.requestJson(
      'GET',
      `/apis/certificates.k8s.io/v1/certificatesigningrequests/${created.metadata.name}`,
    )) as Record<string, unknown>;
    return { csr: await getCsr(s.kube, created.metadata.name), raw };
  };

  it('reads Nodes and Pods; a missing one is undefined', async () => {
    s.api.setNode({ metadata: { name: 'node-a', uid: 'u-a' } });
    s.api.setNode({ metadata: { name: 'node-d', uid: 'u-d', deletionTimestamp: '2026-01-01T00:00:00Z' } });
    s.api.setPod({
      metadata: { name: 'agent-a', namespace: 'spire', uid: 'p-a' },
      spec: { nodeName: 'node-a', serviceAccountName: 'spire-agent' },
    });
    s.api.setPod({ metadata: { name: 'pending', namespace: 'spire', uid: 'p-p' }, spec: {} });
    const l = kubeLookups(s.kube);
    assert.deepEqual(await l.getNode('node-a'), { name: 'node-a', uid: 'u-a', deleting: false });
    assert.equal((await l.getNode('node-d'))?.deleting, true);
    assert.equal(await l.getNode('node-x'), undefined);
    assert.deepEqual(await l.getPod('spire', 'agent-a'), {
      namespace: 'spire',
      name: 'agent-a',
      uid: 'p-a',
      nodeName: 'node-a',
      serviceAccountName: 'spire-agent',
      deleting: false,
    });
    assert.equal((await l.getPod('spire', 'pending'))?.nodeName, '');
    assert.equal(await l.getPod('other', 'agent-a'), undefined);
  });

  it('throws what is not a clean answer: 403, 5xx, a Node without a UID', async () => {
    const l = kubeLookups(s.kube);
    s.api.addRule({
      path: '/api/v1/nodes/node-a',
      respond: { status: 403, message: 'nodes "node-a" is forbidden' },
    });
    await assert.rejects(l.getNode('node-a'), { code: 'ERR_KUBE_FORBIDDEN' });
    s.api.addRule({ path: /\/pods\//, respond: { status: 503 } });
    await assert.rejects(l.getPod('spire', 'agent-a'), { code: 'ERR_KUBE_API' });
    s.api.setNode({ metadata: { name: 'no-uid' } });
    await assert.rejects(l.getNode('no-uid'), /malformed Node no-uid/);
    s.api.setPod({ metadata: { name: 'no-uid', namespace: 'spire', uid: '' } });
    await assert.rejects(l.getPod('spire', 'no-uid'), /malformed Pod spire\/no-uid/);
  });

  it('writes Approved / Denied through /approval with the resourceVersion it decided on', async () => {
    const e = await entry();
    const body = approvalBody(e, APPROVE, new Date('2026-01-02T03:04:05.678Z'));
    assert.equal(body.apiVersion, 'certificates.k8s.io/v1');
    assert.equal(
      (body.metadata as { resourceVersion: string }).resourceVersion,
      e.csr.metadata.resourceVersion,
    );
    assert.deepEqual((body.status as { conditions: unknown[] }).conditions, [
      {
        type: 'Approved',
        status: 'True',
        reason: 'NodeBindingVerified',
        message: 'ok',
        lastUpdateTime: '2026-01-02T03:04:05Z',
      },
    ]);
    const out = await writeDecision(s.kube, e, APPROVE);
    assert.equal(out.kind, 'written');
    assert.equal(s.api.csr(e.csr.metadata.name)?.status.conditions?.[0]?.type, 'Approved');

    const d = await entry();
    assert.equal((await writeDecision(s.kube, d, DENY)).kind, 'written');
    const cond = s.api.csr(d.csr.metadata.name)?.status.conditions?.[0];
    assert.equal(cond?.type, 'Denied');
    assert.equal(cond.reason, 'NodeMismatch');
  });

  it('never overwrites: a stale copy gets 409, is re-read, and a decision made elsewhere stands', async () => {
    const e = await entry();
    s.api.deny(e.csr.metadata.name, 'AdminSaidNo', 'by hand');
    const out = await writeDecision(s.kube, e, APPROVE);
    assert.equal(out.kind, 'settled-elsewhere');
    const conds = s.api.csr(e.csr.metadata.name)?.status.conditions ?? [];
    assert.deepEqual(
      conds.map((c) => c.reason),
      ['AdminSaidNo'],
    );
  });

  it('after a 409 on a CSR that is still pending, hands back the fresh copy to decide again', async () => {
    const e = await entry();
    s.api.addRule({ method: 'PUT', path: /\/approval$/, respond: { status: 409, reason: 'Conflict' } });
    const out = await writeDecision(s.kube, e, APPROVE);
    assert.equal(out.kind, 'changed');
    assert.equal(out.entry.csr.metadata.name, e.csr.metadata.name);
  });

  it('reports a CSR deleted meanwhile as gone, and throws other failures', async () => {
    const e = await entry();
    s.api.remove(e.csr.metadata.name);
    assert.deepEqual(await writeDecision(s.kube, e, APPROVE), { kind: 'gone' });
    const f = await entry();
    s.api.addRule({ method: 'PUT', path: /\/approval$/, respond: { status: 409 } });
    s.api.addRule({
      method: 'GET',
      path: `/apis/certificates.k8s.io/v1/certificatesigningrequests/${f.csr.metadata.name}`,
      respond: { status: 404 },
    });
    assert.deepEqual(await writeDecision(s.kube, f, APPROVE), { kind: 'gone' });
    s.api.addRule({ method: 'PUT', path: /\/approval$/, respond: { status: 409 } });
    s.api.addRule({
      method: 'GET',
      path: `/apis/certificates.k8s.io/v1/certificatesigningrequests/${f.csr.metadata.name}`,
      respond: { status: 500 },
    });
    await assert.rejects(writeDecision(s.kube, f, APPROVE), { code: 'ERR_KUBE_API' });
    s.api.addRule({ method: 'PUT', path: /\/approval$/, respond: { status: 403 } });
    await assert.rejects(writeDecision(s.kube, f, APPROVE), { code: 'ERR_KUBE_FORBIDDEN' });
  });

  it('records an Event on the CSR in namespace default', async () => {
    const e = await entry();
    await recordDecisionEvent(s.kube, e.csr, DENY, { instance: 'replica-1' });
    const ev = s.api.events.at(-1)!;
    assert.deepEqual(ev.involvedObject, {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      name: e.csr.metadata.name,
      uid: e.csr.metadata.uid,
    });
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.reason, 'NodeMismatch');
    assert.equal(ev.reportingInstance, 'replica-1');
    const approved = decisionEvent(e.csr, APPROVE, { instance: 'x', now: new Date(0) });
    assert.equal(approved.type, 'Normal');
    assert.equal(approved.firstTimestamp, '1970-01-01T00:00:00Z');
    assert.deepEqual(approved.metadata, { generateName: `${e.csr.metadata.name}.`, namespace: 'default' });
  });
});

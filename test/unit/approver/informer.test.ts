import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Backoff } from '../../../src/util/backoff.js';
import { CsrInformer, type InformerHandlers } from '../../../src/approver/informer.js';
import { NODE_CLIENT_SIGNER } from '../../../src/csr/profile.js';
import type { AttestorError } from '../../../src/errors.js';
import { apiSetup, requestPem, type ApiSetup } from './helpers.js';

interface Seen {
  upserts: string[];
  deletes: string[];
  syncs: number;
  errors: { stage: string; err: AttestorError }[];
}

function recorder(): { seen: Seen; handlers: InformerHandlers } {
  const seen: Seen = { upserts: [], deletes: [], syncs: 0, errors: [] };
  return {
    seen,
    handlers: {
      onUpsert: (e) => seen.upserts.push(e.csr.metadata.name),
      onDelete: (c) => seen.deletes.push(c.metadata.name),
      onSync: () => {
        seen.syncs++;
      },
      onError: (stage, err) => seen.errors.push({ stage, err }),
    },
  };
}

describe('CsrInformer', () => {
  let s: ApiSetup;
  const running: AbortController[] = [];
  before(async () => {
    s = await apiSetup();
  });
  after(async () => {
    for (const ac of running) ac.abort();
    await s.close();
  });
  afterEach(() => {
    // A failed test must not leave its informer running into the next one.
    for (const ac of running) ac.abort();
    for (const n of s.api.csrNames()) s.api.remove(n);
  });

  const start = (o: { pageSize?: number; failFastOnAuth?: boolean } = {}) => {
    const r = recorder();
    const inf = new CsrInformer(s.kube, r.handlers, {
      signerName: NODE_CLIENT_SIGNER,
      backoff: new Backoff(10, 40),
      watchTimeoutSeconds: 30,
      ...o,
    });
    const ac = new AbortController();
    running.push(ac);
    const done = inf.run(ac.signal);
    return { ...r, inf, ac, done };
  };

  it('lists page by page (signer field selector), then watches from the list resourceVersion', async () => {
    const names: string[] = [];
    for (let i = 0; i < 5; i++) names.push((await s.createCsr(await requestPem())).metadata.name);
    // Another signer's CSR is not part of the cache.
    const other = await s.kube.requestJson(
      'POST',
      '/apis/certificates.k8s.io/v1/certificatesigningrequests',
      {
        kind: 'CertificateSigningRequest',
        metadata: { generateName: 'other-' },
        spec: {
          request: Buffer.from(await requestPem()).toString('base64'),
          signerName: 'example.com/other',
          usages: ['client auth'],
        },
      },
    );
    const r = start({ pageSize: 2 });
    await s.api.waitUntil(() => r.inf.synced && s.api.openWatches > 0);
    const lists = s.api.requests.filter(
      (q) =>
        q.method === 'GET' && q.path.endsWith('certificatesigningrequests') && q.query.watch === undefined,
    );
    assert.equal(lists.length, 3, 'paginated: 5 CSRs, 2 per page');
    assert.equal(lists[0]?.query.fieldSelector, `spec.signerName=${NODE_CLIENT_SIGNER}`);
    assert.equal(lists[0].query.limit, '2');
    assert.equal(r.seen.syncs, 1);
    assert.equal(r.inf.entries().length, 5);
    for (const n of names) assert.ok(r.inf.get(n) !== undefined);
    assert.equal(r.inf.get((other as { metadata: { name: string } }).metadata.name), undefined);
    const watch = s.api.requests.filter((q) => q.query.watch === '1').at(-1);
    assert.equal(watch?.query.resourceVersion, r.inf.resourceVersion);
    assert.equal(watch.query.allowWatchBookmarks, 'true');

    // Watch events: added, modified, deleted.
    const created = await s.createCsr(await requestPem());
    await s.api.waitUntil(() => r.seen.upserts.includes(created.metadata.name));
    s.api.approve(created.metadata.name);
    await s.api.waitUntil(() => (r.inf.get(created.metadata.name)?.csr.status.conditions.length ?? 0) === 1);
    s.api.remove(created.metadata.name);
    await s.api.waitUntil(() => r.seen.deletes.includes(created.metadata.name));
    assert.equal(r.inf.get(created.metadata.name), undefined);

    // Bookmarks move the resourceVersion on.
    s.api.sendBookmark();
    await s.api.waitUntil(() => r.inf.resourceVersion === String(s.api.resourceVersion));

    // A stream the server ends is resumed from the last resourceVersion, without a LIST.
    const listsBefore = s.api.requests.filter((q) => q.query.limit !== undefined).length;
    const rv = r.inf.resourceVersion;
    s.api.closeWatches();
    await s.api.waitUntil(
      () =>
        s.api.openWatches > 0 &&
        s.api.requests.filter((q) => q.query.watch === '1').at(-1)?.query.resourceVersion === rv,
    );
    assert.equal(s.api.requests.filter((q) => q.query.limit !== undefined).length, listsBefore);
    r.ac.abort();
    await r.done;
    for (const n of s.api.csrNames()) s.api.remove(n);
  });

  it('on 410 Gone lists again and reconciles what it missed (deletions too)', async () => {
    const a = await s.createCsr(await requestPem());
    const b = await s.createCsr(await requestPem());
    const r = start();
    await s.api.waitUntil(() => r.inf.synced && s.api.openWatches > 0);
    // An ERROR 410 event.
    s.api.compact();
    s.api.sendWatchError();
    await s.api.waitUntil(() => r.seen.syncs === 2);
    // An HTTP 410 answer to the re-watch, while a CSR is deleted unseen.
    await s.api.waitUntil(() => s.api.openWatches > 0);
    s.api.addRule({ watch: true, delayMs: 100, respond: { status: 410, reason: 'Expired' } });
    s.api.closeWatches();
    s.api.remove(a.metadata.name);
    await s.api.waitUntil(() => r.seen.syncs === 3);
    assert.ok(r.seen.deletes.includes(a.metadata.name));
    assert.ok(r.inf.get(b.metadata.name) !== undefined);
    assert.ok(r.seen.errors.some((e) => e.stage === 'list' && e.err.details.status === 410));
    r.ac.abort();
    await r.done;
    s.api.remove(b.metadata.name);
  });

  it('retries failed lists and watches, skips malformed objects, and does not spin on empty streams', async () => {
    s.api.addRule({
      method: 'GET',
      path: '/apis/certificates.k8s.io/v1/certificatesigningrequests',
      watch: false,
      respond: { status: 500 },
    });
    const r = start();
    await s.api.waitUntil(() => r.inf.synced && s.api.openWatches > 0);
    assert.equal(r.seen.errors[0]?.stage, 'list');
    // Non-410 ERROR event: a watch error, retried.
    s.api.sendWatchError({ code: 500, reason: 'InternalError', message: 'boom' });
    await s.api.waitUntil(
      () =>
        r.seen.errors.some((e) => e.stage === 'watch' && e.err.message.includes('boom')) &&
        s.api.openWatches > 0,
    );
    // A malformed object is skipped, the stream goes on.
    s.api.sendRaw(`${JSON.stringify({ type: 'ADDED', object: { metadata: { resourceVersion: '5' } } })}\n`);
    await s.api.waitUntil(() => r.seen.errors.some((e) => e.stage === 'parse'));
    // Unknown event types are a watch error.
    s.api.sendRaw(`${JSON.stringify({ type: 'WEIRD', object: {} })}\n`);
    await s.api.waitUntil(() =>
      r.seen.errors.some((e) => e.err.message.includes('unexpected watch event type')),
    );
    // Streams that end at once: backoff, then a working watch again.
    await s.api.waitUntil(() => s.api.openWatches > 0);
    const watchesBefore = s.api.requests.filter((q) => q.query.watch === '1').length;
    s.api.addRule({ watch: true, respond: 'empty-watch', times: 3 });
    s.api.closeWatches();
    await s.api.waitUntil(() => s.api.openWatches > 0);
    assert.equal(s.api.requests.filter((q) => q.query.watch === '1').length, watchesBefore + 4);
    const c = await s.createCsr(await requestPem());
    await s.api.waitUntil(() => r.seen.upserts.includes(c.metadata.name));
    r.ac.abort();
    await r.done;
    s.api.remove(c.metadata.name);
  });

  it('stops at once when its very first LIST is refused (credentials or RBAC), unless told to retry', async () => {
    s.api.addRule({
      method: 'GET',
      watch: false,
      path: '/apis/certificates.k8s.io/v1/certificatesigningrequests',
      respond: { status: 403, message: 'forbidden' },
    });
    const r = start();
    await assert.rejects(r.done, { code: 'ERR_KUBE_FORBIDDEN' });
    s.api.addRule({
      method: 'GET',
      watch: false,
      path: '/apis/certificates.k8s.io/v1/certificatesigningrequests',
      respond: { status: 401 },
    });
    const patient = start({ failFastOnAuth: false });
    await s.api.waitUntil(() => patient.inf.synced);
    assert.equal(patient.seen.errors[0]?.err.code, 'ERR_KUBE_UNAUTHORIZED');
    patient.ac.abort();
    await patient.done;
  });

  it('rejects a malformed list answer (and retries)', async () => {
    s.api.addRule({
      method: 'GET',
      watch: false,
      path: '/apis/certificates.k8s.io/v1/certificatesigningrequests',
      respond: { status: 200, rawBody: '{"items":"nope"}' },
    });
    const r = start();
    await s.api.waitUntil(() => r.inf.synced);
    assert.match(r.seen.errors[0]?.err.message ?? '', /malformed CertificateSigningRequestList/);
    r.ac.abort();
    await r.done;
  });
});

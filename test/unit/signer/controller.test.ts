import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttestorError } from '../../../src/errors.js';
import type { HttpMethod, KubeClient } from '../../../src/kube/http.js';
import { parseCaMaterial, type CaSource } from '../../../src/signer/ca.js';
import { SignerController } from '../../../src/signer/controller.js';
import { createSignerMetrics } from '../../../src/signer/metrics.js';
import { pcrKey, type PcrEntry } from '../../../src/signer/pcr-api.js';
import { createCa } from '../../support/pki.js';
import { SIGNER, pcrEntry, stubRequest } from './helpers.js';

interface Call {
  readonly method: HttpMethod;
  readonly path: string;
  readonly body: unknown;
}

/** A KubeClient whose PUTs answer with `reply` (an object, or an HTTP status to fail with). */
function stubKube(reply: (c: Call) => unknown): { kube: KubeClient; calls: Call[] } {
  const calls: Call[] = [];
  const kube = {
    access: {} as KubeClient['access'],
    requestJson: (method: HttpMethod, path: string, body?: unknown) => {
      const c = { method, path, body };
      calls.push(c);
      const r = reply(c);
      return typeof r === 'number'
        ? Promise.reject(new AttestorError('ERR_KUBE_API', `HTTP ${String(r)}`, { details: { status: r } }))
        : Promise.resolve(r);
    },
    watch: () => {
      throw new Error('not used');
    },
    close: () => undefined,
  } satisfies KubeClient;
  return { kube, calls };
}

async function setUp(o: { reply: (c: Call) => unknown; leader?: () => boolean; publishDelayMs?: number }) {
  const ca = await createCa('CN=signer-ca');
  const material = parseCaMaterial(ca.pem, ca.key.privateKeyPem, {
    certs: { label: 'c' },
    keys: { label: 'k' },
  });
  const source: CaSource = { description: 'test', current: () => Promise.resolve(material) };
  const { kube, calls } = stubKube(o.reply);
  const metrics = await createSignerMetrics();
  const cache = new Map<string, PcrEntry>();
  const ctl = new SignerController({
    kube,
    metrics,
    signerName: SIGNER,
    policy: { allowServiceAccounts: new Set(['spire:spire-agent']), requirePodLabels: {} },
    ca: source,
    caPublishDelayMs: o.publishDelayMs ?? 0,
    maxExpirationMs: 24 * 3_600_000,
    workers: 2,
    isLeader: o.leader ?? (() => true),
    lookup: (k) => cache.get(k),
    getPod: () => Promise.resolve(undefined),
    retryBaseMs: 10,
  });
  const add = (e: PcrEntry): void => {
    cache.set(pcrKey(e.pcr), e);
    ctl.observe(e);
  };
  return { ctl, calls, metrics, add };
}

/** Runs the controller until `done` holds (bounded), then stops it. */
async function runUntil(
  ctl: SignerController,
  done: () => boolean | Promise<boolean>,
  what: string,
): Promise<void> {
  const ac = new AbortController();
  const running = ctl.run(ac.signal);
  const deadline = Date.now() + 5000;
  while (!(await done())) {
    if (Date.now() > deadline) {
      ac.abort();
      await running;
      assert.fail(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setImmediate(r));
  }
  ac.abort();
  await running;
}

const puts = (calls: Call[]): Call[] => calls.filter((c) => c.method === 'PUT');

describe('signer controller', () => {
  it('answers a request once, through /status with the resourceVersion it judged', async () => {
    const { b64 } = await stubRequest();
    const entry = pcrEntry({ stub: b64, resourceVersion: '42' });
    const s = await setUp({
      reply: (c) => ({
        ...(c.body as object),
        metadata: { ...(entry.raw.metadata as object), resourceVersion: '43' },
      }),
    });
    s.add(entry);
    await runUntil(s.ctl, () => puts(s.calls).length === 1, 'the status write');
    const [put] = puts(s.calls);
    assert.ok(put !== undefined);
    assert.equal(
      put.path,
      `/apis/certificates.k8s.io/v1/namespaces/spire/podcertificaterequests/${entry.pcr.metadata.name}/status`,
    );
    const body = put.body as {
      metadata: { resourceVersion: string };
      status: { conditions: { type: string }[]; certificateChain: string };
    };
    assert.equal(body.metadata.resourceVersion, '42');
    assert.equal(body.status.conditions[0]?.type, 'Issued');
    assert.match(body.status.certificateChain, /^-----BEGIN CERTIFICATE-----/);
    // The same (stale) cache entry seen again is not answered twice.
    s.add(entry);
    await runUntil(s.ctl, () => s.ctl.queue.pending === 0, 'the queue to drain');
    assert.equal(puts(s.calls).length, 1);
    assert.equal((await s.metrics.issued.get()).values[0]?.value, 1);
  });

  it('on 409 writes nothing more and counts a conflict; the watch brings the newer version', async () => {
    const { b64 } = await stubRequest();
    const s = await setUp({ reply: () => 409 });
    s.add(pcrEntry({ stub: b64 }));
    await runUntil(s.ctl, () => puts(s.calls).length === 1 && s.ctl.queue.pending === 0, 'the refused write');
    assert.equal((await s.metrics.conflicts.get()).values[0]?.value, 1);
    assert.equal(
      (await s.metrics.issued.get()).values.reduce((n, v) => n + v.value, 0),
      0,
    );
    // An answered version arriving through the watch is never queued.
    const answered = pcrEntry({
      stub: b64,
      status: { conditions: [{ type: 'Denied', status: 'True', reason: 'X' }] },
    });
    s.add(answered);
    assert.equal(s.ctl.queue.pending, 0);
  });

  it('a replica that does not lead writes nothing', async () => {
    const { b64 } = await stubRequest();
    const s = await setUp({ reply: () => ({}), leader: () => false });
    s.add(pcrEntry({ stub: b64 }));
    await runUntil(s.ctl, () => s.ctl.queue.pending === 0, 'the queue to drain');
    assert.equal(s.calls.length, 0);
  });

  it('writes Denied for another service account, and leaves a request pending while no CA may sign', async () => {
    const { b64 } = await stubRequest();
    const denied = await setUp({ reply: (c) => ({ ...(c.body as object) }) });
    denied.add(pcrEntry({ stub: b64, serviceAccountName: 'default' }));
    await runUntil(denied.ctl, () => puts(denied.calls).length === 1, 'the denial');
    const body = puts(denied.calls)[0]?.body as {
      status: { conditions: { type: string; reason: string }[] };
    };
    assert.deepEqual(
      [body.status.conditions[0]?.type, body.status.conditions[0]?.reason],
      ['Denied', 'ServiceAccountNotAllowed'],
    );

    const young = await setUp({ reply: () => ({}), publishDelayMs: 2 * 3_600_000 });
    young.add(pcrEntry({ stub: b64 }));
    const caErrors = async (): Promise<number> =>
      (await young.metrics.errors.get()).values.find((v) => v.labels.kind === 'ca')?.value ?? 0;
    await runUntil(young.ctl, async () => (await caErrors()) >= 1, 'a CA error');
    assert.equal(puts(young.calls).length, 0, 'nothing written: the request waits for a CA');
  });
});

/**
 * Waiting by reading the CSR by name (wait mode poll), against a fake API server whose RBAC
 * stand-in grants only create and get, like k8s-configs/narrow/csr-create-role.yml; and the
 * watch mode's fall back to polling when its watch is refused (403).
 */
import { X509Certificate } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAttestorError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log/logger.js';
import type { CsrProgress } from '../../../src/kube/wait-for-certificate.js';
import { CSR_API_PATH } from '../../../src/kube/csr-api.js';
import { CSR_RBAC_HINT } from '../../../src/kube/csr-client.js';
import type { FakeApiServerOptions } from '../../support/fake-apiserver.js';
import { createNodeCsr, setup, type Setup } from './helpers.js';

/** The narrow role: create and get on CSRs, nothing else. */
const NARROW: FakeApiServerOptions = { authorize: ({ verb }) => verb === 'create' || verb === 'get' };
/** Short polling steps for the tests (the defaults are 100 ms doubling to 2 s). */
const FAST_POLL = { pollInitialMs: 10, pollMaxMs: 40 };

async function withPoll(
  fn: (s: Setup) => Promise<void>,
  apiOpts: FakeApiServerOptions = NARROW,
  wait: Record<string, number> = FAST_POLL,
): Promise<void> {
  const s = await setup(apiOpts, { waitMode: 'poll', wait });
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

const watches = (s: Setup) => s.api.requests.filter((r) => r.query.watch === '1');
const reads = (s: Setup, name: string) =>
  s.api.requests.filter((r) => r.method === 'GET' && r.path === `${CSR_API_PATH}/${name}`);

function assertLeafFor(chainPem: string, nodeName: string): void {
  const leaf = new X509Certificate(chainPem);
  assert.match(leaf.subject, new RegExp(`CN=system:node:${nodeName}`));
}

describe('waitForCertificate, wait mode poll (create + get only)', () => {
  it('returns the chain once approved and signed, reading the CSR by name and never watching', async () => {
    await withPoll(async (s) => {
      const csr = await createNodeCsr(s.client, 'polled');
      const progress: CsrProgress[] = [];
      const p = s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
        onProgress: (pr) => progress.push(pr),
      });
      await s.api.waitUntil(() => reads(s, csr.metadata.name).length >= 2);
      s.api.approve(csr.metadata.name);
      await s.api.waitUntil(() => progress.length === 2);
      await s.api.sign(csr.metadata.name);
      const res = await p;
      assertLeafFor(res.certificateChainPem, 'polled');
      assert.deepEqual(
        progress.map((x) => x.phase),
        ['pending', 'approved'],
      );
      assert.equal(watches(s).length, 0);
      // Besides the create: reads of this one CSR, nothing else.
      const rest = s.api.requests.filter((r) => r.method !== 'POST');
      assert.deepEqual(rest, reads(s, csr.metadata.name));
    });
  });

  it('returns at the first read when the CSR was signed before the wait began', async () => {
    await withPoll(async (s) => {
      const csr = await createNodeCsr(s.client);
      await s.api.approveAndSign(csr.metadata.name);
      const res = await s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
      });
      assertLeafFor(res.certificateChainPem, 'node-1');
      assert.equal(reads(s, csr.metadata.name).length, 1);
    });
  });

  it('works with automatic approval, like kube-controller-manager', async () => {
    await withPoll(
      async (s) => {
        const csr = await createNodeCsr(s.client, 'auto');
        const res = await s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
          deadline: Date.now() + 5000,
        });
        assertLeafFor(res.certificateChainPem, 'auto');
      },
      { ...NARROW, autoApprove: 'approve-and-sign', autoApproveDelayMs: 30 },
    );
  });

  it('fails with ERR_CSR_DENIED carrying the reason and message', async () => {
    await withPoll(async (s) => {
      const csr = await createNodeCsr(s.client);
      const p = s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
      });
      await s.api.waitUntil(() => reads(s, csr.metadata.name).length >= 1);
      s.api.deny(csr.metadata.name, 'NotOurNode', 'node name\nnot in inventory');
      await assert.rejects(p, (err: unknown) => {
        assert.ok(isAttestorError(err, 'ERR_CSR_DENIED'));
        assert.equal(err.details.reason, 'NotOurNode');
        assert.equal(
          err.message,
          `CSR ${csr.metadata.name} was denied: NotOurNode: node name not in inventory`,
        );
        return true;
      });
    });
  });

  it('fails with ERR_CSR_FAILED when the signer marks it Failed', async () => {
    await withPoll(async (s) => {
      const csr = await createNodeCsr(s.client);
      s.api.approve(csr.metadata.name);
      s.api.fail(csr.metadata.name, 'SignerValidationFailure', 'invalid usage');
      await assert.rejects(
        s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
          deadline: Date.now() + 5000,
        }),
        (err: unknown) =>
          isAttestorError(err, 'ERR_CSR_FAILED') &&
          err.message.endsWith('failed: SignerValidationFailure: invalid usage'),
      );
    });
  });

  it('fails with ERR_CSR_DELETED when the CSR is deleted while waiting (404)', async () => {
    await withPoll(async (s) => {
      const csr = await createNodeCsr(s.client);
      const p = s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
      });
      await s.api.waitUntil(() => reads(s, csr.metadata.name).length >= 1);
      s.api.remove(csr.metadata.name);
      await assert.rejects(p, (err: unknown) => {
        assert.ok(isAttestorError(err, 'ERR_CSR_DELETED'));
        assert.equal(err.message, `CSR ${csr.metadata.name} was deleted while waiting for its certificate`);
        return true;
      });
    });
  });

  it('retries HTTP 429 and 5xx answers with backoff, then succeeds', async () => {
    await withPoll(async (s) => {
      const csr = await createNodeCsr(s.client);
      const path = `${CSR_API_PATH}/${csr.metadata.name}`;
      s.api.addRule({ method: 'GET', path, times: 2, respond: { status: 429, reason: 'TooManyRequests' } });
      s.api.addRule({ method: 'GET', path, times: 1, respond: { status: 503, message: 'etcd is sad' } });
      await s.api.approveAndSign(csr.metadata.name);
      const res = await s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
      });
      assertLeafFor(res.certificateChainPem, 'node-1');
      assert.equal(reads(s, csr.metadata.name).length, 4);
    });
  });

  it('times out with ERR_TIMEOUT naming the kubectl command, and the last 429 when the server stays busy', async () => {
    await withPoll(async (s) => {
      const csr = await createNodeCsr(s.client);
      const name = csr.metadata.name;
      const started = Date.now();
      await assert.rejects(
        s.client.waitForCertificate(name, csr.metadata.resourceVersion, { deadline: Date.now() + 300 }),
        (err: unknown) => {
          assert.ok(isAttestorError(err, 'ERR_TIMEOUT'));
          assert.match(
            err.message,
            new RegExp(
              `^CSR ${name} was not approved within \\d+ms; approve it with: kubectl certificate approve ${name}$`,
            ),
          );
          return true;
        },
      );
      assert.ok(Date.now() - started < 2000);
      s.api.addRule({ method: 'GET', times: Infinity, respond: { status: 429, reason: 'TooManyRequests' } });
      await assert.rejects(
        s.client.waitForCertificate(name, csr.metadata.resourceVersion, { deadline: Date.now() + 300 }),
        (err: unknown) =>
          isAttestorError(err, 'ERR_TIMEOUT') &&
          err.details.lastErrorCode === 'ERR_KUBE_API' &&
          /\(last error: GET .* HTTP 429 TooManyRequests/.test(err.message),
      );
    });
  });

  it('times out saying "approved but not signed" when the signer never runs', async () => {
    await withPoll(async (s) => {
      const csr = await createNodeCsr(s.client);
      s.api.approve(csr.metadata.name);
      await assert.rejects(
        s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
          deadline: Date.now() + 300,
        }),
        (err: unknown) =>
          isAttestorError(err, 'ERR_TIMEOUT') &&
          err.details.phase === 'approved' &&
          err.message.includes('was approved but not signed within'),
      );
    });
  });

  it('stops promptly on the abort signal', async () => {
    await withPoll(async (s) => {
      const csr = await createNodeCsr(s.client);
      const ac = new AbortController();
      const p = s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 60_000,
        signal: ac.signal,
      });
      await s.api.waitUntil(() => reads(s, csr.metadata.name).length >= 2);
      const aborted = Date.now();
      ac.abort();
      await assert.rejects(p, (err: unknown) => isAttestorError(err, 'ERR_CANCELLED'));
      assert.ok(Date.now() - aborted < 1000);
    });
  });

  it('a 403 on create names the RBAC files to apply', async () => {
    await withPoll(
      async (s) => {
        await assert.rejects(
          createNodeCsr(s.client),
          (err: unknown) =>
            isAttestorError(err, 'ERR_KUBE_FORBIDDEN') &&
            err.message.includes('User "spire-agent" cannot create') &&
            err.message.endsWith(
              '; the bootstrap user needs create and get on certificatesigningrequests: apply k8s-configs/csr-create-role.yml and csr-create-rolebinding.yml (node-bound approval: k8s-configs/approver/30-agent-rbac.yml; the deployment kit: deploy/agent/rbac.yaml)',
            ),
        );
      },
      { authorize: () => false },
    );
  });

  it('does not retry a 403 on the read: ERR_KUBE_FORBIDDEN at once', async () => {
    await withPoll(
      async (s) => {
        const csr = await createNodeCsr(s.client);
        await assert.rejects(
          s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
            deadline: Date.now() + 5000,
          }),
          (err: unknown) =>
            isAttestorError(err, 'ERR_KUBE_FORBIDDEN') &&
            err.message.includes('User "spire-agent" cannot get') &&
            err.message.endsWith(`; ${CSR_RBAC_HINT}`),
        );
        assert.equal(reads(s, csr.metadata.name).length, 1);
      },
      { authorize: ({ verb }) => verb === 'create' },
    );
  });

  it('spaces its reads out (100 ms doubling by default, jittered down to half): not a tight loop', async () => {
    await withPoll(
      async (s) => {
        const csr = await createNodeCsr(s.client);
        const ac = new AbortController();
        const started = Date.now();
        const p = s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
          deadline: Date.now() + 60_000,
          signal: ac.signal,
        });
        await s.api.waitUntil(() => reads(s, csr.metadata.name).length >= 5, 10_000);
        // Steps of at least 50 + 100 + 200 + 400 ms before the fifth read.
        assert.ok(Date.now() - started >= 750, `polled too fast: ${String(Date.now() - started)} ms`);
        ac.abort();
        await assert.rejects(p, (err: unknown) => isAttestorError(err, 'ERR_CANCELLED'));
      },
      NARROW,
      {},
    );
  });
});

describe('waitForCertificate, wait mode watch, when the watch is refused (403)', () => {
  it('falls back to polling with one info line, and the client polls from then on', async () => {
    const lines: string[] = [];
    const logger = createLogger({ format: 'text', level: 'info', write: (l) => void lines.push(l) });
    const s = await setup(
      { ...NARROW, autoApprove: 'approve-and-sign', autoApproveDelayMs: 20 },
      { logger, wait: FAST_POLL },
    );
    try {
      for (const node of ['first', 'second']) {
        const csr = await createNodeCsr(s.client, node);
        const res = await s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
          deadline: Date.now() + 5000,
        });
        assertLeafFor(res.certificateChainPem, node);
        assert.ok(reads(s, csr.metadata.name).length >= 1);
      }
      assert.equal(watches(s).length, 1, 'one refused watch, then reads only');
      const info = lines.filter((l) => l.includes('refused to watch the CSR (HTTP 403)'));
      assert.equal(info.length, 1, lines.join(''));
      assert.match(info[0]!, /waiting by reading it by name instead \(set the wait mode to poll/);
    } finally {
      await s.close();
    }
  });
});

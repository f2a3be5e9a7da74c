import { X509Certificate } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttestorError, isAttestorError } from '../../../src/errors.js';
import { LineSplitter } from '../../../src/kube/lines.js';
import type { CsrProgress } from '../../../src/kube/wait-for-certificate.js';
import { createNodeCsr, setup, type Setup } from './helpers.js';

async function withSetup(
  fn: (s: Setup) => Promise<void>,
  opts: Parameters<typeof setup>[0] = {},
  clientOpts: Parameters<typeof setup>[1] = {},
): Promise<void> {
  const s = await setup(opts, clientOpts);
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

const watchRequests = (s: Setup) => s.api.requests.filter((r) => r.query.watch === '1');

function assertLeafFor(chainPem: string, nodeName: string): void {
  assert.match(chainPem, /^-----BEGIN CERTIFICATE-----\n/);
  const leaf = new X509Certificate(chainPem);
  assert.match(leaf.subject, new RegExp(`CN=system:node:${nodeName}`));
}

describe('waitForCertificate', () => {
  it('returns the chain when approval and signing land before the watch starts (replayed from the create resourceVersion)', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client, 'early');
      await s.api.approveAndSign(csr.metadata.name);
      const res = await s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
      });
      assertLeafFor(res.certificateChainPem, 'early');
      assert.equal(res.csr.metadata.name, csr.metadata.name);
      const w = watchRequests(s)[0]!;
      assert.equal(w.query.resourceVersion, csr.metadata.resourceVersion);
      assert.equal(w.query.fieldSelector, `metadata.name=${csr.metadata.name}`);
    });
  });

  it('waits through pending, then approved-without-certificate, then returns once signed', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      const progress: CsrProgress[] = [];
      const p = s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
        onProgress: (pr) => progress.push(pr),
      });
      await s.api.waitUntil(() => s.api.openWatches === 1);
      s.api.approve(csr.metadata.name);
      await s.api.waitUntil(() => progress.length === 2);
      await s.api.sign(csr.metadata.name);
      const res = await p;
      assertLeafFor(res.certificateChainPem, 'node-1');
      assert.deepEqual(
        progress.map((x) => x.phase),
        ['pending', 'approved'],
      );
      assert.equal(progress[0]!.csrName, csr.metadata.name);
      assert.ok(progress[1]!.elapsedMs >= 0);
    });
  });

  it('fails with ERR_CSR_DENIED carrying the reason and message', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      const p = s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
      });
      await s.api.waitUntil(() => s.api.openWatches === 1);
      s.api.deny(csr.metadata.name, 'NotOurNode', 'node name\nnot in inventory');
      await assert.rejects(p, (err: unknown) => {
        assert.ok(isAttestorError(err, 'ERR_CSR_DENIED'));
        assert.equal(err.details.reason, 'NotOurNode');
        assert.equal(err.details.message, 'node name not in inventory');
        assert.equal(
          err.message,
          `CSR ${csr.metadata.name} was denied: NotOurNode: node name not in inventory`,
        );
        return true;
      });
    });
  });

  it('fails with ERR_CSR_DENIED when the denial happened before the watch', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      s.api.deny(csr.metadata.name);
      await assert.rejects(
        s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
          deadline: Date.now() + 5000,
        }),
        (err: unknown) => isAttestorError(err, 'ERR_CSR_DENIED'),
      );
    });
  });

  it('fails with ERR_CSR_FAILED when the signer marks it Failed', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      s.api.approve(csr.metadata.name);
      s.api.fail(csr.metadata.name, 'SignerValidationFailure', 'invalid usage');
      await assert.rejects(
        s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
          deadline: Date.now() + 5000,
        }),
        (err: unknown) =>
          isAttestorError(err, 'ERR_CSR_FAILED') &&
          err.details.reason === 'SignerValidationFailure' &&
          err.message.endsWith('failed: SignerValidationFailure: invalid usage'),
      );
    });
  });

  it('fails with ERR_CSR_DELETED when the CSR is deleted while waiting', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      const p = s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
      });
      await s.api.waitUntil(() => s.api.openWatches === 1);
      s.api.remove(csr.metadata.name);
      await assert.rejects(p, (err: unknown) => isAttestorError(err, 'ERR_CSR_DELETED'));
    });
  });

  it('on a watch ERROR 410, re-reads the CSR (already approved and signed) and returns it', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      await s.api.approveAndSign(csr.metadata.name);
      s.api.compact(); // the create resourceVersion is now too old: the watch answers ERROR 410
      const res = await s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
      });
      assertLeafFor(res.certificateChainPem, 'node-1');
      const gets = s.api.requests.filter(
        (r) => r.method === 'GET' && r.path.endsWith(`/${csr.metadata.name}`),
      );
      assert.equal(gets.length, 1);
      assert.equal(watchRequests(s).length, 1);
    });
  });

  it('on 410 with the CSR still pending, re-watches from the re-read resourceVersion', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      const p = s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
      });
      await s.api.waitUntil(() => s.api.openWatches === 1);
      s.api.compact();
      s.api.sendWatchError();
      await s.api.waitUntil(() => watchRequests(s).length === 2 && s.api.openWatches === 1);
      assert.equal(
        watchRequests(s)[1]!.query.resourceVersion,
        s.api.csr(csr.metadata.name)!.metadata.resourceVersion,
      );
      await s.api.approveAndSign(csr.metadata.name);
      assertLeafFor((await p).certificateChainPem, 'node-1');
    });
  });

  it('on 410 re-read finding the CSR gone, fails with ERR_CSR_DELETED', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      s.api.remove(csr.metadata.name);
      s.api.compact();
      await assert.rejects(
        s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
          deadline: Date.now() + 5000,
        }),
        (err: unknown) => isAttestorError(err, 'ERR_CSR_DELETED'),
      );
    });
  });

  it('treats an HTTP 410 answer to the watch like a 410 event', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      s.api.addRule({ watch: true, respond: { status: 410, reason: 'Gone', message: 'too old' } });
      await s.api.approveAndSign(csr.metadata.name);
      assertLeafFor(
        (
          await s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
            deadline: Date.now() + 5000,
          })
        ).certificateChainPem,
        'node-1',
      );
    });
  });

  it('re-watches from the last seen resourceVersion when the stream ends mid-wait, then sees the approval', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      const phases: CsrProgress['phase'][] = [];
      const p = s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
        onProgress: (e) => phases.push(e.phase),
      });
      await s.api.waitUntil(() => s.api.openWatches === 1);
      s.api.approve(csr.metadata.name);
      const approvedRv = () => s.api.csr(csr.metadata.name)!.metadata.resourceVersion;
      const seenRv = approvedRv();
      // The client has taken in the approval event (its progress says so) before the stream ends.
      await s.api.waitUntil(() => phases.includes('approved'));
      s.api.closeWatches();
      await s.api.waitUntil(() => watchRequests(s).length === 2 && s.api.openWatches === 1);
      assert.equal(watchRequests(s)[1]!.query.resourceVersion, seenRv);
      await s.api.sign(csr.metadata.name);
      assertLeafFor((await p).certificateChainPem, 'node-1');
    });
  });

  it('resumes from a BOOKMARK resourceVersion', async (t) => {
    // Every chunk the client's watch reader takes in: the bookmark has been read once it is there.
    const push = t.mock.method(LineSplitter.prototype, 'push');
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      await createNodeCsr(s.client, 'other'); // moves the global resourceVersion on
      const p = s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
      });
      await s.api.waitUntil(() => s.api.openWatches === 1);
      s.api.sendBookmark();
      const bookmarkRv = String(s.api.resourceVersion);
      await s.api.waitUntil(() => push.mock.calls.some((c) => c.arguments[0].includes('"BOOKMARK"')));
      s.api.closeWatches();
      await s.api.waitUntil(() => watchRequests(s).length === 2 && s.api.openWatches === 1);
      assert.equal(watchRequests(s)[1]!.query.resourceVersion, bookmarkRv);
      await s.api.approveAndSign(csr.metadata.name);
      await p;
    });
  });

  it('retries after a connection reset mid-watch', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      const p = s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
      });
      await s.api.waitUntil(() => s.api.openWatches === 1);
      s.api.breakWatches();
      await s.api.waitUntil(() => watchRequests(s).length === 2 && s.api.openWatches === 1);
      await s.api.approveAndSign(csr.metadata.name);
      await p;
    });
  });

  it('retries 5xx answers with backoff and succeeds', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      s.api.addRule({ watch: true, times: 2, respond: { status: 503, message: 'etcd is sad' } });
      const p = s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
      });
      await s.api.waitUntil(() => s.api.openWatches === 1);
      assert.equal(watchRequests(s).length, 3);
      await s.api.approveAndSign(csr.metadata.name);
      await p;
    });
  });

  it('retries after a watch ERROR event other than 410 (e.g. 500)', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      const p = s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
      });
      await s.api.waitUntil(() => s.api.openWatches === 1);
      s.api.sendWatchError({ code: 500, reason: 'InternalError', message: 'etcd\nhiccup' });
      await s.api.waitUntil(() => watchRequests(s).length === 2 && s.api.openWatches === 1);
      await s.api.approveAndSign(csr.metadata.name);
      await p;
    });
  });

  it('backs off when the watch keeps ending immediately, and still completes', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      s.api.addRule({ watch: true, times: 4, respond: 'empty-watch' });
      const started = Date.now();
      const p = s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
      });
      await s.api.waitUntil(() => s.api.openWatches === 1);
      // backoffs 20 + 40 + 80 + 100 ms (the test tuning): clearly not a tight loop
      assert.ok(Date.now() - started >= 200, `re-watched too fast: ${Date.now() - started} ms`);
      assert.equal(watchRequests(s).length, 5);
      await s.api.approveAndSign(csr.metadata.name);
      await p;
    });
  });

  it('times out with ERR_TIMEOUT naming the kubectl command when nobody approves', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      const started = Date.now();
      await assert.rejects(
        s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
          deadline: Date.now() + 300,
        }),
        (err: unknown) => {
          assert.ok(isAttestorError(err, 'ERR_TIMEOUT'));
          const name = csr.metadata.name;
          assert.match(
            err.message,
            new RegExp(
              `^CSR ${name} was not approved within \\d+ms; approve it with: kubectl certificate approve ${name}$`,
            ),
          );
          assert.equal(err.details.phase, 'pending');
          return true;
        },
      );
      assert.ok(Date.now() - started < 2000);
      await s.api.waitUntil(() => s.api.openWatches === 0);
    });
  });

  it('times out saying "approved but not signed" when the signer never runs', async () => {
    await withSetup(async (s) => {
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

  it('times out mentioning the last error when the API server stays unreachable', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      s.api.addRule({ watch: true, times: Infinity, respond: 'destroy' });
      await assert.rejects(
        s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
          deadline: Date.now() + 400,
        }),
        (err: unknown) => {
          assert.ok(isAttestorError(err, 'ERR_TIMEOUT'));
          assert.match(
            err.message,
            /\(last error: cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+: connection reset\)/,
          );
          assert.equal(err.details.lastErrorCode, 'ERR_KUBE_UNREACHABLE');
          return true;
        },
      );
    });
  });

  it('stops promptly on the abort signal', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      const ac = new AbortController();
      const p = s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 60_000,
        signal: ac.signal,
      });
      await s.api.waitUntil(() => s.api.openWatches === 1);
      ac.abort();
      await assert.rejects(p, (err: unknown) => isAttestorError(err, 'ERR_CANCELLED'));
      await s.api.waitUntil(() => s.api.openWatches === 0);
    });
  });

  it('rejects with the abort reason when it is an AttestorError, also when already aborted', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      const reason = new AttestorError('ERR_INTERNAL', 'shutting down');
      await assert.rejects(
        s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
          deadline: Date.now() + 60_000,
          signal: AbortSignal.abort(reason),
        }),
        (err: unknown) => err === reason,
      );
    });
  });

  it('does not retry a 403 on the watch: falls back to reading the CSR, and a 403 there is ERR_KUBE_FORBIDDEN at once', async () => {
    await withSetup(
      async (s) => {
        const csr = await createNodeCsr(s.client);
        await assert.rejects(
          s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
            deadline: Date.now() + 5000,
          }),
          (err: unknown) =>
            isAttestorError(err, 'ERR_KUBE_FORBIDDEN') &&
            err.message.includes(`User "spire-agent" cannot get`),
        );
        assert.equal(watchRequests(s).length, 1);
        assert.equal(
          s.api.requests.filter((r) => r.method === 'GET' && r.query.watch === undefined).length,
          1,
        );
      },
      { authorize: ({ verb }) => verb === 'create' },
    );
  });

  it('fails with ERR_KUBE_API on a malformed watch line instead of dropping it', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      const p = s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
      });
      await s.api.waitUntil(() => s.api.openWatches === 1);
      s.api.sendRaw('{"type":"MODIFIED","object":\n');
      await assert.rejects(
        p,
        (err: unknown) =>
          isAttestorError(err, 'ERR_KUBE_API') && err.message.includes('malformed watch event'),
      );
    });
  });

  it('never returns an empty or non-PEM certificate', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      s.api.approve(csr.metadata.name);
      await s.api.sign(csr.metadata.name, 'not a certificate');
      await assert.rejects(
        s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
          deadline: Date.now() + 5000,
        }),
        (err: unknown) =>
          isAttestorError(err, 'ERR_KUBE_API') && err.message.includes('holds no PEM certificate'),
      );
    });
  });

  it('returns intermediates after the leaf', async () => {
    await withSetup(async (s) => {
      const csr = await createNodeCsr(s.client);
      s.api.approve(csr.metadata.name);
      await s.api.sign(csr.metadata.name);
      const leafPem = Buffer.from(s.api.csr(csr.metadata.name)!.status.certificate!, 'base64').toString();
      s.api.remove(csr.metadata.name);
      const again = await createNodeCsr(s.client);
      s.api.approve(again.metadata.name);
      await s.api.sign(again.metadata.name, `${leafPem}${s.api.clusterCa.pem}`);
      const res = await s.client.waitForCertificate(again.metadata.name, again.metadata.resourceVersion, {
        deadline: Date.now() + 5000,
      });
      assert.equal(res.certificateChainPem.match(/BEGIN CERTIFICATE/g)?.length, 2);
      assert.ok(res.certificateChainPem.startsWith(leafPem.trimEnd()));
    });
  });

  it('works with automatic approval, like kube-controller-manager', async () => {
    await withSetup(
      async (s) => {
        const csr = await createNodeCsr(s.client, 'auto');
        const res = await s.client.waitForCertificate(csr.metadata.name, csr.metadata.resourceVersion, {
          deadline: Date.now() + 5000,
        });
        assertLeafFor(res.certificateChainPem, 'auto');
      },
      { autoApprove: 'approve-and-sign', autoApproveDelayMs: 30 },
    );
  });
});

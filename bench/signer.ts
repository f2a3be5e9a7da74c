/**
 * The PodCertificateRequest signer on a real control plane (NodeRestriction on): request create
 * sent (with a node's client certificate, as the kubelet does) → Issued visible to a watcher,
 * beside kube-controller-manager approving and signing a node-client CSR (csrapproving with the
 * nodeclient RBAC, csrsigning) for the same kind of key, interleaved in the same run. Then
 * throughput: three bursts of `burst` requests created at once, first create → last Issued, with the signer's
 * default 4 workers and with 16. The signer has no client-side rate limit (not client-go: no
 * QPS 5 / burst 10), so the API server and the machine are the limit.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveKubeAccess } from '../src/kube/access.js';
import { CSR_API_PATH } from '../src/kube/csr-api.js';
import { createKubeClient, type KubeClient } from '../src/kube/http.js';
import { NODE_CLIENT_SIGNER } from '../src/csr/profile.js';
import { REPO_ROOT } from '../test/harness/bins.js';
import { startControlPlane, type ControlPlane } from '../test/harness/control-plane.js';
import { ManagedProcess } from '../test/harness/processes.js';
import { createCa } from '../test/support/pki.js';
import { NS, applyApproverManifests, createCsrAs, nodeCsrPem } from '../test/e2e/support/approver-cluster.js';
import { CLI } from '../test/e2e/support/cli.js';
import {
  SIGNER,
  createPcrAs,
  podWithPodCertVolume,
  stubRequest,
} from '../test/e2e/support/pod-cert-cluster.js';
import { baselineRequesterToken } from './lib/baseline-requester.js';
import { row, type Row } from './lib/report.js';
import { interleave } from './lib/timing.js';

const PCR_ALL = '/apis/certificates.k8s.io/v1/podcertificaterequests';

/** First time a watcher sees each object of `path` satisfy `done`. */
function doneTimes(
  kube: KubeClient,
  path: string,
  fieldSelector: string,
  done: (o: Record<string, unknown>) => boolean,
  signal: AbortSignal,
): { wait(name: string, timeoutMs?: number): Promise<number>; running: Promise<void> } {
  const seen = new Map<string, number>();
  const waiters = new Map<string, (t: number) => void>();
  const running = (async () => {
    const list = (await kube.requestJson('GET', `${path}?limit=1`)) as {
      metadata: { resourceVersion: string };
    };
    for await (const ev of kube.watch(
      path,
      { fieldSelector, resourceVersion: list.metadata.resourceVersion },
      signal,
    )) {
      const t = performance.now();
      const name = (ev.object.metadata as { name?: string } | undefined)?.name ?? '';
      if (seen.has(name) || !done(ev.object)) continue;
      seen.set(name, t);
      waiters.get(name)?.(t);
    }
  })().catch(() => undefined);
  return {
    running,
    wait: (name, timeoutMs = 60_000) => {
      const t = seen.get(name);
      if (t !== undefined) return Promise.resolve(t);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`${name} not done within ${String(timeoutMs / 1000)} s`));
        }, timeoutMs);
        waiters.set(name, (at) => {
          clearTimeout(timer);
          resolve(at);
        });
      });
    },
  };
}

async function startSigner(cp: ControlPlane, dir: string, workers: number): Promise<ManagedProcess> {
  const cred = await cp.mintUser('system:serviceaccount:spire:node-attestor-signer');
  const proc = new ManagedProcess({
    name: `signer (${String(workers)} workers)`,
    command: CLI,
    logFile: join(dir, `signer-${String(workers)}.log`),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    args: [
      'signer',
      ...['-server', cp.server, '-ca-cert', cp.pki.caCertPath],
      ...['-client-cert', cred.certPath, '-client-key', cred.keyPath],
      ...['-allow-service-account', 'spire:spire-agent', '-workers', String(workers)],
      ...['-ca-cert-file', join(dir, 'signer-ca.crt'), '-ca-key-file', join(dir, 'signer-ca.key')],
      ...[
        '-ca-publish-delay',
        '0s',
        '-http-address',
        '127.0.0.1:0',
        '-leader-elect=false',
        '-log-level',
        'warn',
      ],
    ],
  });
  return proc;
}

export async function signerLatency(n: number, burst: number): Promise<Row[]> {
  const cp = await startControlPlane({ apiserverArgs: ['--enable-admission-plugins=NodeRestriction'] });
  const work = mkdtempSync(join(tmpdir(), 'na-bench-signer-'));
  const ac = new AbortController();
  const procs: ManagedProcess[] = [];
  try {
    await cp.kubectl(['create', 'namespace', NS]);
    await cp.kubectl(['apply', '-f', join(REPO_ROOT, 'k8s-configs/signer/10-signer-rbac.yml')]);
    await applyApproverManifests(cp);
    await cp.kubectl(['create', 'serviceaccount', 'spire-agent', '-n', NS]).catch(() => '');
    const admin = createKubeClient(
      await resolveKubeAccess({ kubeconfig: cp.adminKubeconfig, env: {}, homeDir: work }),
    );
    const node = (await admin.requestJson('POST', '/api/v1/nodes', { metadata: { name: 'bench-node' } })) as {
      metadata: { uid: string };
    };
    const sa = (await admin.requestJson('GET', `/api/v1/namespaces/${NS}/serviceaccounts/spire-agent`)) as {
      metadata: { uid: string };
    };
    const pod = (await admin.requestJson(
      'POST',
      `/api/v1/namespaces/${NS}/pods`,
      podWithPodCertVolume('bench-agent', 'bench-node', 'spire-agent'),
    )) as { metadata: { uid: string } };
    const nodeCred = await cp.mintUser('system:node:bench-node', ['system:nodes']);
    const ca = await createCa('CN=bench signer CA');
    writeFileSync(join(work, 'signer-ca.crt'), ca.pem);
    writeFileSync(join(work, 'signer-ca.key'), ca.key.privateKeyPem, { mode: 0o600 });
    await cp.waitForAccess('system:serviceaccount:spire:node-attestor-signer', {
      group: 'certificates.k8s.io',
      resource: 'signers',
      name: SIGNER,
      verb: 'sign',
    });
    // The baseline: a service account with the nodeclient binding; KCM approves and signs.
    const baseline = await baselineRequesterToken(cp);

    const issued = doneTimes(
      admin,
      PCR_ALL,
      `spec.signerName=${SIGNER}`,
      (o) =>
        ((o.status as { conditions?: { type: string }[] } | undefined)?.conditions ?? []).some(
          (c) => c.type === 'Issued',
        ),
      ac.signal,
    );
    const signed = doneTimes(
      admin,
      CSR_API_PATH,
      `spec.signerName=${NODE_CLIENT_SIGNER}`,
      (o) => typeof (o.status as { certificate?: unknown } | undefined)?.certificate === 'string',
      ac.signal,
    );

    const stubs = await Promise.all(Array.from({ length: n + 3 + 6 * burst }, () => stubRequest()));
    const pems = await Promise.all(Array.from({ length: n + 3 }, () => nodeCsrPem('bench-node')));
    let nextStub = 0;
    let nextPem = 0;
    const createPcr = async (): Promise<string> => {
      const s = stubs[nextStub++] ?? (await stubRequest());
      const r = await createPcrAs(cp, nodeCred, {
        namespace: NS,
        pod: 'bench-agent',
        podUID: pod.metadata.uid,
        sa: 'spire-agent',
        saUID: sa.metadata.uid,
        node: 'bench-node',
        nodeUID: node.metadata.uid,
        stubB64: s.b64,
      });
      if (r.status !== 201)
        throw new Error(`create PodCertificateRequest: HTTP ${String(r.status)} ${r.body}`);
      return (JSON.parse(r.body) as { metadata: { name: string } }).metadata.name;
    };
    const ours = async (): Promise<number> => {
      const t0 = performance.now();
      const name = await createPcr();
      return (await issued.wait(name)) - t0;
    };
    const kcm = async (): Promise<number> => {
      const pem = pems[nextPem++] ?? (await nodeCsrPem('bench-node'));
      const t0 = performance.now();
      const created = await createCsrAs(cp, baseline, pem, 'bench-');
      return (await signed.wait(created.metadata.name)) - t0;
    };

    const rows: Row[] = [];
    const signer4 = await startSigner(cp, work, 4);
    procs.push(signer4);
    for (let i = 0; i < 3; i++) {
      await ours();
      await kcm();
    }
    const [pcrSamples, csrSamples] = await interleave(n, ours, kcm);
    rows.push(
      row('signer', `PodCertificateRequest create → Issued (${String(n)} requests)`, 'ms', pcrSamples, {
        baseline: {
          name: 'KCM: node-client CSR create → approved and signed (nodeclient RBAC)',
          samples: csrSamples,
        },
        goal: ({ median }) => ({ text: '< 100 ms median', met: median < 100 }),
        note: 'sequential requests with a node client certificate (NodeRestriction admission), ECDSA P-256; one signer replica, 4 workers; interleaved with the baseline',
      }),
    );

    const throughput = async (): Promise<number> => {
      const t0 = performance.now();
      const names = await Promise.all(Array.from({ length: burst }, () => createPcr()));
      const ends = await Promise.all(names.map((nm) => issued.wait(nm, 120_000)));
      return (burst * 1000) / (Math.max(...ends) - t0);
    };
    rows.push(
      row(
        'signer',
        `issues/s, ${String(burst)} requests created at once, 4 workers`,
        'ops/s',
        [await throughput(), await throughput(), await throughput()],
        {
          note: 'three bursts; first create sent → last Issued seen; no client-side rate limit (the public figure: ~4.5/s for a client-go signer at QPS 5)',
        },
      ),
    );
    await signer4.stop();
    const signer16 = await startSigner(cp, work, 16);
    procs.push(signer16);
    rows.push(
      row(
        'signer',
        `issues/s, ${String(burst)} requests created at once, 16 workers`,
        'ops/s',
        [await throughput(), await throughput(), await throughput()],
        {
          note: 'as above, -workers 16',
        },
      ),
    );
    ac.abort();
    await Promise.all([issued.running, signed.running]);
    admin.close();
    return rows;
  } finally {
    ac.abort();
    for (const p of procs) await p.stop();
    await cp.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

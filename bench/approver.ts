/**
 * The node-bound approver's latency on a real control plane: CSR create request sent → Approved
 * condition visible to a watcher, for node-client CSRs from a pod-bound service-account token,
 * beside kube-controller-manager's own csrapproving for the same kind of CSR from a service
 * account that has the nodeclient binding (the "auto via RBAC" mode), measured in the same run
 * and interleaved so load hits both alike. The approver runs as a process (the bundled CLI).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSR_API_PATH } from '../src/kube/csr-api.js';
import { resolveKubeAccess } from '../src/kube/access.js';
import { createKubeClient } from '../src/kube/http.js';
import { NODE_CLIENT_SIGNER } from '../src/csr/profile.js';
import { startControlPlane } from '../test/harness/control-plane.js';
import {
  AGENT_SA,
  APPROVER_SA,
  NS,
  applyApproverManifests,
  createCsrAs,
  createNode,
  createPod,
  mintToken,
  nodeCsrPem,
  startApprover,
  writeToken,
} from '../test/e2e/support/approver-cluster.js';
import { baselineRequesterToken } from './lib/baseline-requester.js';
import { row, type Row } from './lib/report.js';
import { interleave } from './lib/timing.js';

export async function approverLatency(n: number): Promise<Row[]> {
  const cp = await startControlPlane();
  const work = mkdtempSync(join(tmpdir(), 'na-bench-approver-'));
  const ac = new AbortController();
  try {
    await cp.kubectl(['create', 'namespace', NS]);
    await applyApproverManifests(cp);
    await createNode(cp, 'bench-node');
    const podUid = await createPod(cp, 'bench-agent', 'bench-node');
    const ours = await mintToken(cp, AGENT_SA, { kind: 'Pod', name: 'bench-agent', uid: podUid });
    // The baseline requester: same CSR rights plus the nodeclient binding, not allow-listed.
    const baseline = await baselineRequesterToken(cp);
    const approver = await startApprover(cp, {
      dir: work,
      identity: 'bench',
      tokenFile: writeToken(work, 'approver', await mintToken(cp, APPROVER_SA)),
      fastLease: false,
    });

    // One admin watch on every node-client CSR: when each first shows Approved.
    const admin = createKubeClient(
      await resolveKubeAccess({ kubeconfig: cp.adminKubeconfig, env: {}, homeDir: work }),
    );
    const approvedAt = new Map<string, number>();
    const waiters = new Map<string, (t: number) => void>();
    const list = (await admin.requestJson('GET', `${CSR_API_PATH}?limit=1`)) as {
      metadata: { resourceVersion: string };
    };
    const watching = (async () => {
      for await (const ev of admin.watch(
        CSR_API_PATH,
        {
          fieldSelector: `spec.signerName=${NODE_CLIENT_SIGNER}`,
          resourceVersion: list.metadata.resourceVersion,
        },
        ac.signal,
      )) {
        const t = performance.now();
        const o = ev.object as { metadata?: { name?: string }; status?: { conditions?: { type: string }[] } };
        const name = o.metadata?.name ?? '';
        if (approvedAt.has(name) || !(o.status?.conditions ?? []).some((c) => c.type === 'Approved'))
          continue;
        approvedAt.set(name, t);
        waiters.get(name)?.(t);
      }
    })().catch(() => undefined);

    const pems = await Promise.all(Array.from({ length: 2 * n }, () => nodeCsrPem('bench-node')));
    let next = 0;
    const measure = async (token: string): Promise<number> => {
      const pem = pems[next++] ?? (await nodeCsrPem('bench-node'));
      const t0 = performance.now();
      const created = await createCsrAs(cp, token, pem, 'bench-');
      const name = created.metadata.name;
      const seen = approvedAt.get(name);
      const t1 =
        seen ??
        (await new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => {
            reject(new Error(`CSR ${name} not approved within 30 s`));
          }, 30_000);
          waiters.set(name, (t) => {
            clearTimeout(timer);
            resolve(t);
          });
        }));
      waiters.delete(name);
      return t1 - t0;
    };
    // Warm both paths (connections, the KCM's queue) before measuring.
    for (let i = 0; i < 3; i++) {
      await measure(ours);
      await measure(baseline);
    }
    next = 0;
    const [nodeBound, kcm] = await interleave(
      n,
      () => measure(ours),
      () => measure(baseline),
    );
    const decided = await approver.metric('node_attestor_approver_csrs_approved_total');
    ac.abort();
    await watching;
    admin.close();
    await approver.proc.stop();
    return [
      row('approver', `CSR create → Approved (node-bound approver, ${String(n)} CSRs)`, 'ms', nodeBound, {
        baseline: { name: 'KCM csrapproving with nodeclient RBAC', samples: kcm },
        goal: ({ median }) => ({ text: '< 100 ms median', met: median < 100 }),
        note: `sequential CSRs, ECDSA P-256, one approver replica (leader); it approved ${String(decided)} CSRs in total (including warm-up); the baseline is the built-in approver, which checks no node name`,
      }),
    ];
  } finally {
    ac.abort();
    await cp.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

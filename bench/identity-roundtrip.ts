/**
 * Process start → identity written, against a real control plane: node-attestor vs. the same flow
 * scripted by hand with openssl req + kubectl create + kubectl wait + kubectl get; and the wait
 * mode poll (read the CSR by name, for the narrow create + get role) against the default watch,
 * in the same interleaved pass: the latency cost of not granting watch. That cost is also measured
 * without process start-up: CSR create → signed certificate in one process, poll against watch.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binPath } from '../test/harness/bins.js';
import { startControlPlane } from '../test/harness/control-plane.js';
import { writeKubeconfig } from '../test/harness/kubeconfig.js';
import { row, type Row } from './lib/report.js';
import { distFile, pinnedNode } from './lib/node-binaries.js';
import { interleaveMany, timeProcess } from './lib/timing.js';
import { generateKey } from '../src/csr/keys.js';
import { NODE_CLIENT_SIGNER, nodeClientUsages } from '../src/csr/profile.js';
import { buildNodeCsr } from '../src/csr/request.js';
import { resolveKubeAccess, type KubeAccess } from '../src/kube/access.js';
import { createCsrClient } from '../src/kube/csr-client.js';
import { POLL_INITIAL_MS, POLL_MAX_MS, type WaitMode } from '../src/kube/wait-mode.js';
import { formatDuration } from '../src/util/duration.js';

const BASELINE = `set -euo pipefail
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \\
  -keyout "$d/key" -out "$d/csr" -subj "/O=system:nodes/CN=system:node:$NODE" 2>/dev/null
name="node-csr-$NODE-$RANDOM$RANDOM"
cat >"$d/csr.yaml" <<Y
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {name: $name}
spec:
  request: $(base64 -w0 "$d/csr")
  signerName: kubernetes.io/kube-apiserver-client-kubelet
  usages: [digital signature, client auth]
  expirationSeconds: 3600
Y
"$KUBECTL" create -f "$d/csr.yaml" >/dev/null
"$KUBECTL" wait --for=jsonpath='{.status.certificate}' "csr/$name" --timeout=60s >/dev/null
"$KUBECTL" get csr "$name" -o jsonpath='{.status.certificate}' | base64 -d >"$OUT/id-doc.crt"
install -m 0600 "$d/key" "$OUT/id-doc.key"
`;

/** Milliseconds from the create request to the signed certificate, waiting with `wait`. */
function createToSigned(access: KubeAccess, wait: WaitMode): () => Promise<number> {
  let n = 0;
  return async () => {
    const key = await generateKey('ecdsa-p256');
    const requestPem = await buildNodeCsr({
      nodeName: `bench-${wait}-${String(++n)}`,
      keyType: 'ecdsa-p256',
      privateKey: key.privateKey,
    });
    const client = createCsrClient(access, { waitMode: wait });
    try {
      const t0 = performance.now();
      const created = await client.createCsr({
        generateName: `node-csr-bench-${wait}-`,
        requestPem,
        signerName: NODE_CLIENT_SIGNER,
        usages: nodeClientUsages(false),
      });
      await client.waitForCertificate(created.metadata.name, created.metadata.resourceVersion, {
        deadline: Date.now() + 30_000,
      });
      return performance.now() - t0;
    } finally {
      client.close();
    }
  };
}

export async function identityRoundTrip(runs: number): Promise<Row[]> {
  const cp = await startControlPlane();
  const work = mkdtempSync(join(tmpdir(), 'na-bench-'));
  try {
    const cred = await cp.setUpSpireAgent();
    const kubeconfig = join(work, 'spire-agent.kubeconfig');
    writeKubeconfig(kubeconfig, cp.server, cp.pki.caCertPath, [
      { name: 'spire-agent', certPath: cred.certPath, keyPath: cred.keyPath },
    ]);
    const script = join(work, 'baseline.sh');
    writeFileSync(script, BASELINE, { mode: 0o755 });
    let i = 0;
    const cliRun = (cmd: string, pre: readonly string[], wait: WaitMode) => () =>
      timeProcess(cmd, [
        ...pre,
        '-wait',
        wait,
        '-kubeconfig',
        kubeconfig,
        '-agent-name',
        `bench-${wait}`,
        '-id-dir',
        join(work, `cli-id-${wait}`),
        '-force',
        '-log-level',
        'warn',
      ]);
    const scriptRun = (): Promise<number> => {
      i += 1;
      const out = join(work, `script-${String(i)}`);
      return timeProcess('bash', ['-c', `mkdir -p ${out} && ${script}`], {
        ...process.env,
        KUBECONFIG: kubeconfig,
        KUBECTL: binPath('kubectl'),
        NODE: 'bench-script',
        OUT: out,
      });
    };
    const goal = ({ ratio }: { ratio?: number }): { text: string; met: boolean } => ({
      text: '≤ 0.5× baseline',
      met: (ratio ?? Infinity) <= 0.5,
    });
    const rows: Row[] = [];
    // The single executable (what users ship), then the .mjs on the same pinned Node; each gets
    // its own interleaved pass against the script, so noise hits both sides alike.
    const node = pinnedNode('shipped');
    for (const [what, cmd, pre] of [
      ['single executable', distFile('node-attestor'), []],
      [`.mjs on ${node.label}`, node.path, [distFile('node-attestor.mjs')]],
    ] as const) {
      const [watched = [], polled = [], scripted = []] = await interleaveMany(runs, [
        cliRun(cmd, pre, 'watch'),
        cliRun(cmd, pre, 'poll'),
        scriptRun,
      ]);
      rows.push(
        row('identity round trip', `node-attestor, ${what} (start → identity written)`, 'ms', watched, {
          baseline: { name: 'openssl + kubectl create/wait/get', samples: scripted },
          goal,
        }),
        row(
          'identity round trip',
          `node-attestor -wait=poll, ${what} (narrow role: create + get)`,
          'ms',
          polled,
          {
            baseline: { name: 'node-attestor -wait=watch, same pass', samples: watched },
            note: `the latency cost of waiting by reading the CSR by name (${formatDuration(POLL_INITIAL_MS)} rising to ${formatDuration(POLL_MAX_MS)}, jittered) instead of a watch`,
          },
        ),
      );
    }
    // The wait alone, twice as many runs: no process start-up in the figure.
    const access = await resolveKubeAccess({
      server: cp.server,
      caCert: cp.pki.caCertPath,
      clientCert: cred.certPath,
      clientKey: cred.keyPath,
    });
    const [watchWaits = [], pollWaits = []] = await interleaveMany(2 * runs, [
      createToSigned(access, 'watch'),
      createToSigned(access, 'poll'),
    ]);
    rows.push(
      row('identity round trip', 'CSR create → signed, wait mode poll (in one process)', 'ms', pollWaits, {
        baseline: { name: 'wait mode watch, same pass', samples: watchWaits },
      }),
    );
    return rows;
  } finally {
    await cp.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Process start → identity written, against a real control plane: node-attestor vs. the same flow
 * scripted by hand with openssl req + kubectl create + kubectl wait + kubectl get.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binPath } from '../test/harness/bins.js';
import { startControlPlane } from '../test/harness/control-plane.js';
import { writeKubeconfig } from '../test/harness/kubeconfig.js';
import { row, type Row } from './lib/report.js';
import { distFile, pinnedNode } from './lib/node-binaries.js';
import { interleave, timeProcess } from './lib/timing.js';

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
    const cliRun = (cmd: string, pre: readonly string[]) => () =>
      timeProcess(cmd, [
        ...pre,
        '-kubeconfig',
        kubeconfig,
        '-agent-name',
        'bench-cli',
        '-id-dir',
        join(work, 'cli-id'),
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
      const [ours, scripted] = await interleave(runs, cliRun(cmd, pre), scriptRun);
      rows.push(
        row('identity round trip', `node-attestor, ${what} (start → identity written)`, 'ms', ours, {
          baseline: { name: 'openssl + kubectl create/wait/get', samples: scripted },
          goal,
        }),
      );
    }
    return rows;
  } finally {
    await cp.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

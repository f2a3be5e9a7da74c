/**
 * The local control plane itself: start to ready (etcd → kube-apiserver → kube-controller-manager),
 * and node-client CSR create → signed certificate as the user spire-agent, beside the API
 * server's own round trip (GET /readyz) measured in the same run as the floor.
 */
import { startControlPlane } from '../test/harness/control-plane.js';
import { generateKey } from '../src/csr/keys.js';
import { NODE_CLIENT_SIGNER, nodeClientUsages } from '../src/csr/profile.js';
import { buildNodeCsr } from '../src/csr/request.js';
import { resolveKubeAccess } from '../src/kube/access.js';
import { createCsrClient } from '../src/kube/csr-client.js';
import { row, type Row } from './lib/report.js';

export async function controlPlane(starts: number, csrs: number): Promise<Row[]> {
  const ready: number[] = [];
  for (let i = 0; i < starts - 1; i++) {
    const t0 = performance.now();
    const cp = await startControlPlane();
    ready.push(performance.now() - t0);
    await cp.stop();
  }
  const t0 = performance.now();
  const cp = await startControlPlane();
  ready.push(performance.now() - t0);
  try {
    const cred = await cp.setUpSpireAgent();
    const client = createCsrClient(
      await resolveKubeAccess({
        server: cp.server,
        caCert: cp.pki.caCertPath,
        clientCert: cred.certPath,
        clientKey: cred.keyPath,
      }),
    );
    const signed: number[] = [];
    const floor: number[] = [];
    try {
      for (let i = 0; i < csrs; i++) {
        const key = await generateKey('ecdsa-p256');
        const requestPem = await buildNodeCsr({
          nodeName: `bench-${String(i)}`,
          keyType: 'ecdsa-p256',
          privateKey: key.privateKey,
        });
        const f0 = performance.now();
        await cp.adminRequest('GET', '/readyz');
        floor.push(performance.now() - f0);
        const s0 = performance.now();
        const created = await client.createCsr({
          generateName: 'node-csr-bench-',
          requestPem,
          signerName: NODE_CLIENT_SIGNER,
          usages: nodeClientUsages(false),
        });
        await client.waitForCertificate(created.metadata.name, created.metadata.resourceVersion, {
          deadline: Date.now() + 30_000,
        });
        signed.push(performance.now() - s0);
      }
    } finally {
      client.close();
    }
    return [
      row('control plane', 'start → ready (etcd, apiserver, KCM)', 'ms', ready, {
        goal: ({ median }) => ({ text: '< 15 s', met: median < 15_000 }),
      }),
      row('control plane', 'CSR create → signed certificate', 'ms', signed, {
        baseline: { name: 'GET /readyz round trip', samples: floor },
        goal: ({ median }) => ({ text: '< 1 s', met: median < 1000 }),
      }),
    ];
  } finally {
    await cp.stop();
  }
}

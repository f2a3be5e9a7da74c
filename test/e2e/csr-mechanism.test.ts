/**
 * The mechanism everything rests on, against a real control plane: a non-admin user
 * (spire-agent) creates a node client CSR; kube-controller-manager approves it because of the
 * nodeclient RBAC binding and signs it with the cluster CA. Without that binding it stays Pending.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NODE_CLIENT_CREATE, startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import { NODECLIENT_ROLE, NODE_BOOTSTRAPPER_ROLE, clusterRoleBinding } from './support/rbac.js';
import { userRequest, type UserTls } from './support/user-request.js';

interface Csr {
  metadata: { name: string; resourceVersion: string };
  spec: { username?: string };
  status?: { conditions?: { type: string; reason?: string }[]; certificate?: string };
}

const CSR_PATH = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function nodeCsrPem(dir: string, node: string): string {
  const key = join(dir, `${node}.key`);
  const csr = join(dir, `${node}.csr`);
  execFileSync(
    'openssl',
    [
      'req',
      '-new',
      '-nodes',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      `/O=system:nodes/CN=system:node:${node}`,
    ],
    { stdio: 'ignore' },
  );
  return execFileSync('cat', [csr], { encoding: 'utf8' });
}

async function createNodeCsr(cp: ControlPlane, tls: UserTls, name: string, node: string): Promise<Csr> {
  const r = await userRequest(cp.server, tls, 'POST', CSR_PATH, {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name },
    spec: {
      request: Buffer.from(nodeCsrPem(cp.dir, node)).toString('base64'),
      signerName: 'kubernetes.io/kube-apiserver-client-kubelet',
      usages: ['digital signature', 'client auth'],
      expirationSeconds: 3600,
    },
  });
  assert.equal(r.status, 201, `create CSR: ${JSON.stringify(r.json)}`);
  return r.json as Csr;
}

async function getCsr(cp: ControlPlane, name: string): Promise<Csr> {
  const r = await cp.adminRequest('GET', `${CSR_PATH}/${name}`);
  assert.equal(r.status, 200);
  return JSON.parse(r.body) as Csr;
}

async function waitIssued(cp: ControlPlane, name: string, timeoutMs: number): Promise<Csr> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const csr = await getCsr(cp, name);
    if (csr.status?.certificate) return csr;
    if (Date.now() > deadline)
      assert.fail(`CSR ${name} not issued in ${timeoutMs} ms: ${JSON.stringify(csr.status)}`);
    await sleep(50);
  }
}

describe('the node-client CSR mechanism on a real control plane', () => {
  let cp: ControlPlane;
  let agent: UserTls;

  before(async () => {
    cp = await startControlPlane();
    const cred = await cp.mintUser('spire-agent');
    agent = { caPath: cp.pki.caCertPath, certPath: cred.certPath, keyPath: cred.keyPath };
    // Only the bootstrapper role at first: the user may create CSRs but not get them auto-approved.
    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(
        clusterRoleBinding('spire-agent-csr-bootstrapper', NODE_BOOTSTRAPPER_ROLE, 'spire-agent'),
      ),
    });
    await cp.waitForAccess('spire-agent', {
      group: 'certificates.k8s.io',
      resource: 'certificatesigningrequests',
      verb: 'create',
    });
  });

  after(async () => {
    await cp.stop();
  });

  it('leaves the CSR Pending without the nodeclient binding, and approves it once the binding exists', async () => {
    const created = await createNodeCsr(cp, agent, 'node-csr-unbound', 'node-unbound');
    assert.equal(created.spec.username, 'spire-agent');
    await sleep(3000); // the approver reacts in milliseconds when it is allowed to
    const pending = await getCsr(cp, 'node-csr-unbound');
    assert.deepEqual(pending.status?.conditions ?? [], [], 'no condition while the binding is missing');
    assert.equal(pending.status?.certificate, undefined);

    // Positive control: the same CSR is approved (after the approver's backoff) once bound,
    // which shows the controller was running and only RBAC held it back.
    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(clusterRoleBinding('spire-agent-csr-nodeclient', NODECLIENT_ROLE, 'spire-agent')),
    });
    const issued = await waitIssued(cp, 'node-csr-unbound', 60_000);
    assert.equal(issued.status?.conditions?.[0]?.type, 'Approved');
  });

  it('approves and signs a node-client CSR from spire-agent; the cert verifies against the cluster CA', async () => {
    await cp.waitForAccess('spire-agent', NODE_CLIENT_CREATE);
    const t0 = performance.now();
    await createNodeCsr(cp, agent, 'node-csr-bound', 'node-1');
    const csr = await waitIssued(cp, 'node-csr-bound', 30_000);
    const ms = performance.now() - t0;
    const cond = csr.status?.conditions?.find((c) => c.type === 'Approved');
    assert.equal(cond?.reason, 'AutoApproved');
    const certPath = join(cp.dir, 'node-1.crt');
    writeFileSync(certPath, Buffer.from(csr.status?.certificate ?? '', 'base64'));
    const verify = execFileSync('openssl', ['verify', '-CAfile', cp.pki.caCertPath, certPath], {
      encoding: 'utf8',
    });
    assert.match(verify, /: OK/);
    const text = execFileSync(
      'openssl',
      ['x509', '-in', certPath, '-noout', '-subject', '-ext', 'extendedKeyUsage'],
      {
        encoding: 'utf8',
      },
    );
    assert.match(text, /subject=O = system:nodes, CN = system:node:node-1/);
    assert.match(text, /TLS Web Client Authentication/);
    console.log(`# CSR create → signed certificate: ${ms.toFixed(0)} ms`);
  });
});

/**
 * What the approver's e2e tests and benchmark need on a real control plane: the manifests of
 * k8s-configs/approver/ applied, Nodes and agent Pods (never run: no kubelet, they stay
 * Pending with spec.nodeName set), TokenRequest tokens (pod-bound or not), CSRs created with
 * those tokens, and approver processes (the single executable) that cannot outlive the test.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { httpRequestText } from '../../harness/http-request.js';
import { join } from 'node:path';
import { DEFAULT_EXPIRATION_MS } from '../../../src/identity/defaults.js';
import { generateKey } from '../../../src/csr/keys.js';
import { NODE_CLIENT_SIGNER, nodeClientUsages } from '../../../src/csr/profile.js';
import { buildNodeCsr } from '../../../src/csr/request.js';
import { REPO_ROOT } from '../../harness/bins.js';
import type { ControlPlane } from '../../harness/control-plane.js';
import { ManagedProcess } from '../../harness/processes.js';
import { CLI } from './cli.js';
import { sampleValue } from '../../support/prometheus-text.js';

export const NS = 'spire';
export const AGENT_SA = 'spire-agent';
export const AGENT_USER = `system:serviceaccount:${NS}:${AGENT_SA}`;
export const APPROVER_SA = 'node-attestor-approver';
export const APPROVER_USER = `system:serviceaccount:${NS}:${APPROVER_SA}`;
export const MANIFESTS = join(REPO_ROOT, 'k8s-configs', 'approver');
export const CSRS = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface CsrJson {
  metadata: { name: string; uid: string; resourceVersion: string; creationTimestamp: string };
  spec: {
    username: string;
    extra?: Record<string, string[]>;
    signerName: string;
    request: string;
    expirationSeconds?: number;
  };
  status: {
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    certificate?: string;
  };
}

async function admin<T>(cp: ControlPlane, method: string, path: string, body?: unknown): Promise<T> {
  const r = await cp.adminRequest(method, path, body);
  if (r.status < 200 || r.status > 299)
    throw new Error(`${method} ${path}: HTTP ${String(r.status)} ${r.body}`);
  return JSON.parse(r.body) as T;
}

/** An HTTPS request with a bearer token (as a service account would send it). */
export function tokenRequest(
  cp: ControlPlane,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return httpRequestText(new URL(path, cp.server), {
    method,
    tls: { ca: readFileSync(cp.pki.caCertPath) },
    headers: { Authorization: `Bearer ${token}` },
    body,
  });
}

export async function createNode(cp: ControlPlane, name: string): Promise<string> {
  const n = await admin<{ metadata: { uid: string } }>(cp, 'POST', '/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
  });
  return n.metadata.uid;
}

/** A Pod of `sa` bound to `node` (it never runs: no kubelet). */
export async function createPod(
  cp: ControlPlane,
  name: string,
  node: string | undefined,
  sa = AGENT_SA,
): Promise<string> {
  const p = await admin<{ metadata: { uid: string } }>(cp, 'POST', `/api/v1/namespaces/${NS}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      ...(node === undefined ? {} : { nodeName: node }),
      serviceAccountName: sa,
      automountServiceAccountToken: false,
      containers: [{ name: 'agent', image: 'spire-agent:never-pulled' }],
    },
  });
  return p.metadata.uid;
}

/** A TokenRequest token for `sa`, bound to a Pod (or a Node) when asked. */
export async function mintToken(
  cp: ControlPlane,
  sa: string,
  bound?: { kind: 'Pod' | 'Node'; name: string; uid: string },
): Promise<string> {
  const r = await admin<{ status: { token: string } }>(
    cp,
    'POST',
    `/api/v1/namespaces/${NS}/serviceaccounts/${sa}/token`,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        expirationSeconds: 3600,
        ...(bound === undefined ? {} : { boundObjectRef: { apiVersion: 'v1', ...bound } }),
      },
    },
  );
  return r.status.token;
}

export function writeToken(dir: string, name: string, token: string): string {
  const path = join(dir, `${name}.token`);
  writeFileSync(path, token, { mode: 0o600 });
  return path;
}

/** A node-client request PEM for `node` (a fresh ECDSA P-256 key). */
export async function nodeCsrPem(node: string): Promise<string> {
  const key = await generateKey('ecdsa-p256');
  return buildNodeCsr({ nodeName: node, keyType: 'ecdsa-p256', privateKey: key.privateKey });
}

/**
 * Creates a node-client CSR as `token`; resolves with the created object. It asks for the
 * lifetime our agents ask for by default unless `expirationSeconds` says otherwise (null: none).
 */
export async function createCsrAs(
  cp: ControlPlane,
  token: string,
  requestPem: string,
  prefix = 'node-csr-e2e-',
  expirationSeconds: number | null = DEFAULT_EXPIRATION_MS / 1000,
): Promise<CsrJson> {
  const r = await tokenRequest(cp, token, 'POST', CSRS, {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { generateName: prefix },
    spec: {
      request: Buffer.from(requestPem).toString('base64'),
      signerName: NODE_CLIENT_SIGNER,
      usages: nodeClientUsages(false),
      ...(expirationSeconds === null ? {} : { expirationSeconds }),
    },
  });
  if (r.status !== 201) throw new Error(`create CSR: HTTP ${String(r.status)} ${r.body}`);
  return JSON.parse(r.body) as CsrJson;
}

export async function getCsr(cp: ControlPlane, name: string): Promise<CsrJson> {
  return admin<CsrJson>(cp, 'GET', `${CSRS}/${name}`);
}

export const decisionsOf = (c: CsrJson): string[] =>
  (c.status.conditions ?? []).filter((x) => x.type === 'Approved' || x.type === 'Denied').map((x) => x.type);

/** Polls until the CSR has an Approved or Denied condition (and, with `signed`, a certificate). */
export async function waitForDecision(
  cp: ControlPlane,
  name: string,
  o: { signed?: boolean; timeoutMs?: number } = {},
): Promise<CsrJson> {
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  for (;;) {
    const c = await getCsr(cp, name);
    if (decisionsOf(c).length > 0 && (o.signed !== true || (c.status.certificate ?? '') !== '')) return c;
    if (Date.now() > deadline)
      throw new Error(`CSR ${name} not decided in time: ${JSON.stringify(c.status)}`);
    await sleep(50);
  }
}

/** Applies the approver manifests and waits until RBAC lets both service accounts work. */
export async function applyApproverManifests(cp: ControlPlane): Promise<string> {
  const out = await cp.kubectl(['apply', '-f', MANIFESTS]);
  const csr = { group: 'certificates.k8s.io', resource: 'certificatesigningrequests' };
  await cp.waitForAccess(AGENT_USER, { ...csr, verb: 'create' });
  await cp.waitForAccess(APPROVER_USER, { ...csr, verb: 'watch' });
  await cp.waitForAccess(APPROVER_USER, {
    group: 'certificates.k8s.io',
    resource: 'signers',
    name: NODE_CLIENT_SIGNER,
    verb: 'approve',
  });
  await cp.waitForAccess(APPROVER_USER, {
    group: 'coordination.k8s.io',
    resource: 'leases',
    namespace: NS,
    verb: 'create',
  });
  await cp.waitForAccess(APPROVER_USER, { resource: 'events', namespace: 'default', verb: 'create' });
  return out;
}

export interface ApproverProcess {
  readonly proc: ManagedProcess;
  readonly identity: string;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** The JSON log lines written so far. */
  logLines(): Record<string, unknown>[];
  metrics(): Promise<string>;
  /**
   * One sample of /metrics (e.g. `node_attestor_approver_leader`, or `…_total` with its labels),
   * read with the strict text-format reader; NaN when absent.
   */
  metric(name: string, labels?: Readonly<Record<string, string>>): Promise<number>;
}

export interface StartApproverOptions {
  readonly dir: string;
  readonly identity: string;
  readonly tokenFile: string;
  readonly extraArgs?: readonly string[];
  /**
   * Faster leader election than the defaults, so failover tests take seconds; a renew deadline of
   * 6 s, not less, so that one slow etcd write on a loaded machine does not make the leader step down.
   */
  readonly fastLease?: boolean;
}

export async function startApprover(cp: ControlPlane, o: StartApproverOptions): Promise<ApproverProcess> {
  const logFile = join(o.dir, `approver-${o.identity}-${String(Date.now())}.log`);
  const proc = new ManagedProcess({
    name: `approver ${o.identity}`,
    command: CLI,
    logFile,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    args: [
      'approver',
      '-server',
      cp.server,
      '-ca-cert',
      cp.pki.caCertPath,
      '-token-file',
      o.tokenFile,
      '-allow-requester',
      AGENT_USER,
      '-http-address',
      '127.0.0.1:0',
      '-lease-namespace',
      NS,
      '-leader-identity',
      o.identity,
      '-log-format',
      'json',
      ...(o.fastLease === false
        ? []
        : ['-lease-duration', '8s', '-renew-deadline', '6s', '-retry-period', '500ms']),
      ...(o.extraArgs ?? []),
    ],
  });
  const logLines = (): Record<string, unknown>[] =>
    readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  let url = '';
  for (let i = 0; i < 300 && url === ''; i++) {
    if (proc.hasExited) throw new Error(`approver exited: ${proc.describeExit()}\n${proc.tail()}`);
    const line = logLines().find((l) => typeof l.url === 'string');
    if (line !== undefined) url = String(line.url);
    else await sleep(50);
  }
  if (url === '') throw new Error(`approver did not start serving:\n${proc.tail()}`);
  const metrics = async (): Promise<string> => {
    const r = await fetch(`${url}/metrics`);
    return r.text();
  };
  const a: ApproverProcess = {
    proc,
    identity: o.identity,
    url,
    logLines,
    metrics,
    metric: async (name, labels = {}) => sampleValue(await metrics(), name, labels) ?? Number.NaN,
  };
  // Ready = the CSR cache has synced.
  for (let i = 0; i < 300; i++) {
    if (proc.hasExited) throw new Error(`approver exited: ${proc.describeExit()}\n${proc.tail()}`);
    const r = await fetch(`${url}/readyz`).catch(() => undefined);
    if (r?.status === 200) return a;
    await sleep(50);
  }
  throw new Error(`approver not ready:\n${proc.tail()}`);
}

/** The decision log lines ("approved CSR …" / "denied CSR …") of one approver, by CSR name. */
export function decisionLines(a: ApproverProcess): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of a.logLines()) {
    if (typeof l.decision === 'string' && typeof l.csr === 'string') m.set(l.csr, (m.get(l.csr) ?? 0) + 1);
  }
  return m;
}

export interface Lease {
  spec: { holderIdentity?: string; leaseTransitions?: number };
}

export async function getLease(
  cp: ControlPlane,
  name = 'node-attestor-approver',
): Promise<Lease | undefined> {
  const r = await cp.adminRequest('GET', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${name}`);
  return r.status === 200 ? (JSON.parse(r.body) as Lease) : undefined;
}

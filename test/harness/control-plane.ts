/**
 * A real, throwaway Kubernetes control plane on 127.0.0.1: etcd → kube-apiserver (RBAC,
 * client-certificate auth) → kube-controller-manager running only the CSR controllers
 * (approving, signing with the cluster CA, cleaner). Free ports, a temp dir per instance, so
 * several can run at once. Every process dies with ours (see processes.ts).
 *
 * With `workloads: true` it is a control plane nodes can join and pods run on (node.ts): bootstrap
 * tokens, the Node authorizer's NodeRestriction admission, the API server → kubelet client, the
 * controllers pods and workloads need, kube-scheduler, and a `kubernetes` Service pods can dial
 * (a per-cluster Service range whose first address sits on `lo`, forwarded to the API server:
 * api-forwarder.ts). Only tests that need a node pay for it.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, binPath } from './bins.js';
import { createClusterPki, mintUser, type ClusterPki, type UserCredential } from './cluster-pki.js';
import { writeKubeconfig } from './kubeconfig.js';
import { ManagedProcess, startFailure } from './processes.js';
import { freePort } from './ports.js';
import { httpRequestText, type HttpResult } from './http-request.js';
import { claimServiceAddress, type ServiceAddress } from './host-net.js';
import { startApiForwarder, type ApiForwarder } from './api-forwarder.js';

export interface ControlPlaneOptions {
  /** Keep the temp dir (logs, PKI) after stop; also kept when start fails. */
  readonly keepDir?: boolean;
  /** --cluster-signing-duration of the signer. */
  readonly signingDuration?: string;
  /** Extra kube-apiserver flags. */
  readonly apiserverArgs?: readonly string[];
  /** Extra kube-controller-manager flags (e.g. --kube-api-qps for the scale benchmark). */
  readonly controllerManagerArgs?: readonly string[];
  readonly log?: (line: string) => void;
  /** A control plane that runs workloads: nodes can join (see the file comment). Default false. */
  readonly workloads?: boolean;
  /** Fixed ports instead of free ones (tests of a taken port). */
  readonly ports?: {
    readonly etcd?: number;
    readonly apiserver?: number;
    readonly controllerManager?: number;
  };
}

export type { HttpResult };

export interface ControlPlane {
  readonly dir: string;
  readonly server: string;
  readonly pki: ClusterPki;
  readonly adminKubeconfig: string;
  /** The API server's port on 127.0.0.1. */
  readonly apiPort: number;
  /** With `workloads`: the `kubernetes` Service ClusterIP (forwarded to the API server) and range. */
  readonly service?: { readonly ip: string; readonly range: string };
  readonly processes: readonly ManagedProcess[];
  /** Runs kubectl with the admin kubeconfig (or `kubeconfig`); rejects on a non-zero exit. */
  kubectl(args: readonly string[], opts?: { kubeconfig?: string; input?: string }): Promise<string>;
  /** A client certificate for a non-admin user signed by the cluster CA. */
  mintUser(user: string, groups?: readonly string[]): Promise<UserCredential>;
  /** An HTTPS request as the admin. */
  adminRequest(method: string, path: string, body?: unknown): Promise<HttpResult>;
  /** Polls a SubjectAccessReview until `user` may do it (RBAC caches update asynchronously). */
  waitForAccess(user: string, attrs: Record<string, string>, timeoutMs?: number): Promise<void>;
  /**
   * The tutorial's set-up: applies the kit's RBAC (k8s-configs/*.yml), mints the `spire-agent`
   * user and waits until RBAC lets it create node-client CSRs. Returns its credential.
   */
  setUpSpireAgent(): Promise<UserCredential>;
  stop(): Promise<void>;
}

/**
 * The controllers a cluster with workloads runs besides the CSR ones: service accounts and their
 * tokens, the kube-root-ca.crt ConfigMap every projected token volume mounts, garbage collection
 * and namespace deletion, the workload kinds the deployment kit uses, pod GC, node lifecycle, and
 * bootstrap-token upkeep (signing the cluster-info ConfigMap, deleting expired tokens).
 */
const WORKLOAD_CONTROLLERS = [
  'serviceaccount',
  'serviceaccount-token',
  'root-ca-cert-publisher',
  'garbagecollector',
  'namespace',
  'deployment',
  'replicaset',
  'daemonset',
  'statefulset',
  'podgc',
  // Takes off the node.kubernetes.io/not-ready taint the kubelet registers its Node with, once
  // the Node is Ready; without it the scheduler places no pod.
  'nodelifecycle',
  'bootstrapsigner',
  'tokencleaner',
];

/** What the `nodeclient` auto-approve binding grants: the SubjectAccessReview attributes. */
export const NODE_CLIENT_CREATE: Readonly<Record<string, string>> = {
  group: 'certificates.k8s.io',
  resource: 'certificatesigningrequests',
  subresource: 'nodeclient',
  verb: 'create',
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function get(
  url: string,
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; insecure?: boolean },
): Promise<HttpResult> {
  return httpRequestText(url, {
    timeoutMs: 2000,
    tls: { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.insecure !== true },
  });
}

async function waitReady(
  p: ManagedProcess,
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p.hasExited) throw startFailure(p, `it exited while waiting for ${what}`);
    try {
      if (await probe()) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw startFailure(p, `${what} not ready after ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

export async function startControlPlane(o: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = o.log ?? (() => undefined);
  const bins = {
    etcd: binPath('etcd'),
    apiserver: binPath('kube-apiserver'),
    kcm: binPath('kube-controller-manager'),
    kubectl: binPath('kubectl'),
  };
  for (const [name, path] of Object.entries(bins))
    if (!existsSync(path)) throw new Error(`${name} binary not found at ${path}; run: npm run test-bins`);
  const workloads = o.workloads === true;
  const scheduler = workloads ? binPath('kube-scheduler') : undefined;
  if (scheduler !== undefined && !existsSync(scheduler))
    throw new Error(`kube-scheduler binary not found at ${scheduler}; run: npm run test-bins`);
  const dir = mkdtempSync(join(tmpdir(), 'na-cluster-'));
  const procs: ManagedProcess[] = [];
  let service: ServiceAddress | undefined;
  let forwarder: ApiForwarder | undefined;
  const stopAll = async (): Promise<void> => {
    for (const p of [...procs].reverse()) await p.stop();
    await forwarder?.close();
    await service?.remove();
  };
  try {
    if (workloads) service = await claimServiceAddress();
    const pki = await createClusterPki(dir, service?.ip);
    const [etcdPort, peerPort, apiPort, kcmPort] = await Promise.all([
      o.ports?.etcd ?? freePort(),
      freePort(),
      o.ports?.apiserver ?? freePort(),
      o.ports?.controllerManager ?? freePort(),
    ]);
    const server = `https://127.0.0.1:${String(apiPort)}`;
    const adminKubeconfig = join(dir, 'admin.kubeconfig');
    writeKubeconfig(adminKubeconfig, server, pki.caCertPath, [
      { name: 'admin', certPath: pki.adminCertPath, keyPath: pki.adminKeyPath },
    ]);
    const tls = {
      ca: readFileSync(pki.caCertPath),
      cert: readFileSync(pki.adminCertPath),
      key: readFileSync(pki.adminKeyPath),
    };

    log(`etcd on 127.0.0.1:${String(etcdPort)}`);
    const etcdUrl = `http://127.0.0.1:${String(etcdPort)}`;
    const peerUrl = `http://127.0.0.1:${String(peerPort)}`;
    const etcd = new ManagedProcess({
      name: 'etcd',
      command: bins.etcd,
      logFile: join(dir, 'etcd.log'),
      args: [
        '--name=default',
        `--data-dir=${join(dir, 'etcd-data')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        '--initial-cluster-state=new',
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
    });
    procs.push(etcd);
    await waitReady(etcd, 'etcd /health', 20_000, async () => {
      const r = await get(`${etcdUrl}/health`, {});
      return r.status === 200 && r.body.includes('"health":"true"');
    });

    log(`kube-apiserver on ${server}`);
    const apiserver = new ManagedProcess({
      name: 'kube-apiserver',
      command: bins.apiserver,
      logFile: join(dir, 'kube-apiserver.log'),
      args: [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${String(apiPort)}`,
        `--tls-cert-file=${pki.apiserverCertPath}`,
        `--tls-private-key-file=${pki.apiserverKeyPath}`,
        `--client-ca-file=${pki.caCertPath}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${pki.saPubPath}`,
        `--service-account-signing-key-file=${pki.saKeyPath}`,
        '--authorization-mode=Node,RBAC',
        `--service-cluster-ip-range=${service?.range ?? '10.0.0.0/24'}`,
        `--cert-dir=${join(dir, 'apiserver-certs')}`,
        '--v=1',
        ...(workloads
          ? [
              // Kubelets join with a bootstrap token (TLS bootstrap), as in a real cluster.
              '--enable-bootstrap-token-auth',
              // A kubelet may only change its own Node and its own pods' status.
              '--enable-admission-plugins=NodeRestriction',
              // `kubectl logs`/`exec`: the API server dials the kubelet at its --node-ip
              // (the node bridge's gateway) as the admin, which the kubelet's webhook authz allows.
              `--kubelet-client-certificate=${pki.adminCertPath}`,
              `--kubelet-client-key=${pki.adminKeyPath}`,
              '--kubelet-preferred-address-types=InternalIP',
            ]
          : []),
        ...(o.apiserverArgs ?? []),
      ],
    });
    procs.push(apiserver);
    await waitReady(apiserver, '/readyz', 90_000, async () => {
      const r = await get(`${server}/readyz`, tls);
      return r.status === 200 && r.body.trim() === 'ok';
    });

    log(
      `kube-controller-manager on 127.0.0.1:${String(kcmPort)} (${workloads ? 'CSR and workload controllers' : 'CSR controllers only'})`,
    );
    const kcm = new ManagedProcess({
      name: 'kube-controller-manager',
      command: bins.kcm,
      logFile: join(dir, 'kube-controller-manager.log'),
      args: [
        `--kubeconfig=${adminKubeconfig}`,
        `--controllers=${['csrapproving', 'csrsigning', 'csrcleaner', ...(workloads ? WORKLOAD_CONTROLLERS : [])].join(',')}`,
        ...(workloads
          ? [
              // root-ca-cert-publisher publishes this as kube-root-ca.crt; the legacy token
              // controller signs with the service-account key.
              `--root-ca-file=${pki.caCertPath}`,
              `--service-account-private-key-file=${pki.saKeyPath}`,
            ]
          : []),
        `--cluster-signing-cert-file=${pki.caCertPath}`,
        `--cluster-signing-key-file=${pki.caKeyPath}`,
        `--cluster-signing-duration=${o.signingDuration ?? '24h'}`,
        '--leader-elect=false',
        '--use-service-account-credentials=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${String(kcmPort)}`,
        `--cert-dir=${join(dir, 'kcm-certs')}`,
        '--v=2',
        ...(o.controllerManagerArgs ?? []),
      ],
    });
    procs.push(kcm);
    await waitReady(kcm, '/healthz', 30_000, async () => {
      const r = await get(`https://127.0.0.1:${String(kcmPort)}/healthz`, { insecure: true });
      return r.status === 200;
    });

    if (scheduler !== undefined && service !== undefined) {
      const schedPort = await freePort();
      log(`kube-scheduler on 127.0.0.1:${String(schedPort)}`);
      const sched = new ManagedProcess({
        name: 'kube-scheduler',
        command: scheduler,
        logFile: join(dir, 'kube-scheduler.log'),
        args: [
          `--kubeconfig=${adminKubeconfig}`,
          `--authentication-kubeconfig=${adminKubeconfig}`,
          `--authorization-kubeconfig=${adminKubeconfig}`,
          '--leader-elect=false',
          '--bind-address=127.0.0.1',
          `--secure-port=${String(schedPort)}`,
          `--cert-dir=${join(dir, 'scheduler-certs')}`,
          '--v=1',
        ],
      });
      procs.push(sched);
      await waitReady(sched, '/healthz', 30_000, async () => {
        const r = await get(`https://127.0.0.1:${String(schedPort)}/healthz`, { insecure: true });
        return r.status === 200;
      });
      forwarder = await startApiForwarder(service.ip, apiPort);
      log(`kubernetes Service ${service.ip}:443 (range ${service.range}) forwarded to ${server}`);
    }

    const adminRequest = (method: string, path: string, body?: unknown): Promise<HttpResult> =>
      httpRequestText(new URL(path, server), { method, tls, body });

    const kubectl = (
      args: readonly string[],
      ko: { kubeconfig?: string; input?: string } = {},
    ): Promise<string> =>
      new Promise((resolve, reject) => {
        const child = execFile(
          bins.kubectl,
          [`--kubeconfig=${ko.kubeconfig ?? adminKubeconfig}`, ...args],
          { encoding: 'utf8', timeout: 60_000 },
          (err, stdout, stderr) => {
            if (err) reject(new Error(`kubectl ${args.join(' ')}: ${stderr.trim() || err.message}`));
            else resolve(stdout);
          },
        );
        if (ko.input !== undefined) child.stdin?.end(ko.input);
      });

    const waitForAccess = async (
      user: string,
      attrs: Record<string, string>,
      timeoutMs = 20_000,
    ): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await adminRequest('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: { user, resourceAttributes: attrs },
        });
        if (
          r.status === 201 &&
          (JSON.parse(r.body) as { status?: { allowed?: boolean } }).status?.allowed === true
        )
          return;
        if (Date.now() > deadline)
          throw new Error(`RBAC: ${user} still not allowed ${JSON.stringify(attrs)}`);
        await sleep(100);
      }
    };

    const setUpSpireAgent = async (): Promise<UserCredential> => {
      await kubectl(['apply', '-f', join(REPO_ROOT, 'k8s-configs')]);
      const cred = await mintUser(pki, dir, 'spire-agent');
      await waitForAccess('spire-agent', NODE_CLIENT_CREATE);
      return cred;
    };

    return {
      dir,
      server,
      pki,
      adminKubeconfig,
      apiPort,
      ...(service !== undefined ? { service: { ip: service.ip, range: service.range } } : {}),
      processes: procs,
      kubectl,
      mintUser: (user, groups) => mintUser(pki, dir, user, groups),
      adminRequest,
      waitForAccess,
      setUpSpireAgent,
      stop: async () => {
        await stopAll();
        if (o.keepDir !== true) rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

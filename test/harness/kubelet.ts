/**
 * One node's kubelet (v1.37.2, built by tools/build-test-bins.sh): its KubeletConfiguration —
 * every setting this machine needs says why — and its start inside the node's mount and PID
 * namespaces (nsenter; it sees the node's /proc, and dies with the node's containerd), with
 * only the bootstrap kubeconfig: it gets its client certificate through
 * TLS bootstrap and writes `--kubeconfig` itself.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess } from './processes.js';

export interface KubeletOptions {
  readonly bin: string;
  readonly dir: string;
  readonly name: string;
  readonly nodeIp: string;
  readonly port: number;
  readonly healthzPort: number;
  readonly clientCaFile: string;
  /** Serving certificate and key (cluster-CA-signed: cluster-pki.ts mintKubeletServing). */
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  readonly containerdSocket: string;
  readonly bootstrapKubeconfig: string;
  /** The node's namespaces (containerd.ts): the kubelet runs in both. */
  readonly namespaces: { readonly mount: string; readonly pid: string };
}

export interface KubeletPaths {
  readonly config: string;
  readonly rootDir: string;
  readonly certDir: string;
  /** Written by the kubelet once its bootstrap CSR is signed. */
  readonly kubeconfig: string;
  readonly logFile: string;
}

export function kubeletPaths(dir: string): KubeletPaths {
  return {
    config: join(dir, 'kubelet-config.yaml'),
    rootDir: join(dir, 'kubelet'),
    certDir: join(dir, 'kubelet-pki'),
    kubeconfig: join(dir, 'kubelet.kubeconfig'),
    logFile: join(dir, 'kubelet.log'),
  };
}

function configYaml(o: KubeletOptions): string {
  const q = (s: string): string => JSON.stringify(s);
  return [
    'apiVersion: kubelet.config.k8s.io/v1beta1',
    'kind: KubeletConfiguration',
    // Listens on every address: the API server dials the --node-ip (bridge gateway), SPIRE's k8s
    // workload attestor on the agent's host network dials 127.0.0.1. Two nodes share the host's
    // network namespace, so each has its own ports.
    'address: 0.0.0.0',
    `port: ${String(o.port)}`,
    // Signed by the cluster CA for 127.0.0.1, the node IP and the node name.
    `tlsCertFile: ${q(o.tlsCertFile)}`,
    `tlsPrivateKeyFile: ${q(o.tlsKeyFile)}`,
    'healthzBindAddress: 127.0.0.1',
    `healthzPort: ${String(o.healthzPort)}`,
    // No unauthenticated read-only API.
    'readOnlyPort: 0',
    // The API server authenticates with the admin certificate (cluster CA) and the kubelet asks
    // the API server whether it may (SubjectAccessReview), as in a real cluster.
    'authentication:',
    '  anonymous:',
    '    enabled: false',
    '  webhook:',
    '    enabled: true',
    '  x509:',
    `    clientCAFile: ${q(o.clientCaFile)}`,
    'authorization:',
    '  mode: Webhook',
    `containerRuntimeEndpoint: ${q(`unix://${o.containerdSocket}`)}`,
    // This machine has cgroup v1 (hybrid); from 1.35 on the kubelet refuses it unless told.
    'failCgroupV1: false',
    // No systemd here; containerd is told the same (SystemdCgroup = false).
    'cgroupDriver: cgroupfs',
    // Do not insist swap is off on a developer machine.
    'failSwapOn: false',
    // No per-QoS cgroup tree and no node-allocatable enforcement: two kubelets share one cgroup
    // hierarchy here, and neither may reshape it for the other.
    'cgroupsPerQOS: false',
    'enforceNodeAllocatable: []',
    // Ephemeral-storage accounting needs a dedicated filesystem; a temp dir on / is not one.
    'localStorageCapacityIsolation: false',
    // Evict nothing short of a truly full disk or memory (CI disks are often fullish), and never
    // garbage-collect the images the harness imported (they cannot be pulled back).
    'evictionHard:',
    '  memory.available: "1Mi"',
    '  nodefs.available: "1%"',
    '  nodefs.inodesFree: "1%"',
    '  imagefs.available: "1%"',
    'imageGCHighThresholdPercent: 100',
    'imageGCLowThresholdPercent: 99',
    // Per-node places for what would otherwise go to shared host paths.
    `podLogsDir: ${q(join(o.dir, 'pod-logs'))}`,
    `volumePluginDir: ${q(join(o.dir, 'volume-plugins'))}`,
    // Renew the client certificate through the CSR API (…:selfnodeclient).
    'rotateCertificates: true',
    '',
  ].join('\n');
}

/** Writes the configuration (once) and starts the kubelet in the node's mount namespace. */
export function startKubelet(o: KubeletOptions): ManagedProcess {
  const p = kubeletPaths(o.dir);
  for (const d of [p.rootDir, p.certDir, join(o.dir, 'pod-logs'), join(o.dir, 'volume-plugins')])
    mkdirSync(d, { recursive: true });
  writeFileSync(p.config, configYaml(o));
  return new ManagedProcess({
    name: `kubelet ${o.name}`,
    command: 'nsenter',
    // nsenter forks the kubelet into the PID namespace and waits for it.
    signalChild: true,
    logFile: p.logFile,
    args: [
      `--mount=${o.namespaces.mount}`,
      `--pid=${o.namespaces.pid}`,
      '--',
      o.bin,
      `--config=${p.config}`,
      `--bootstrap-kubeconfig=${o.bootstrapKubeconfig}`,
      `--kubeconfig=${p.kubeconfig}`,
      `--cert-dir=${p.certDir}`,
      `--root-dir=${p.rootDir}`,
      `--hostname-override=${o.name}`,
      // The bridge's gateway: kubelet refuses a loopback node IP, and the API server reaches the
      // kubelet at this address (--kubelet-preferred-address-types=InternalIP).
      `--node-ip=${o.nodeIp}`,
      '--v=2',
    ],
  });
}

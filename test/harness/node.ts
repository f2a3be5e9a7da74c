/**
 * A real Kubernetes node joined to a harness control plane (started with `workloads: true`):
 * containerd (containerd.ts) and the kubelet (kubelet.ts) in one private mount namespace, a CNI
 * bridge with its own /24 (host-net.ts, cni.ts), and TLS bootstrap with a bootstrap token
 * (node-bootstrap.ts). Each node has its own temp dir, bridge, ports and "host" directories, so
 * two nodes — and two clusters — run side by side. stop() leaves no process, mount or bridge.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binPath } from './bins.js';
import { mintKubeletServing } from './cluster-pki.js';
import { cniBinDir, writeCniConfig } from './cni.js';
import { startContainerd, type Containerd } from './containerd.js';
import type { ControlPlane } from './control-plane.js';
import { createNodeBridge, type NodeBridge } from './host-net.js';
import { writeKubeconfig } from './kubeconfig.js';
import { kubeletPaths, startKubelet, type KubeletOptions } from './kubelet.js';
import { createBootstrapToken, type BootstrapToken } from './node-bootstrap.js';
import { PAUSE_IMAGE, builtImageArchive, imageRef, importImages } from './node-images.js';
import { freePort } from './ports.js';
import type { ManagedProcess } from './processes.js';

/**
 * Host paths the deployment kit mounts with hostPath; on each node they are bind mounts of the
 * node's own directories (plus the kubelet's fixed /var/log/containers links dir).
 */
export const NODE_HOST_PATHS: readonly string[] = ['/run/spire', '/var/lib/spire', '/var/log/containers'];

export interface NodeOptions {
  readonly name: string;
  /** Keep the node's dir (logs, state) after stop. */
  readonly keepDir?: boolean;
  /** OCI archives to import before the kubelet starts (besides the pause image). */
  readonly images?: readonly string[];
  /** How long to wait for the Node to be Ready. Default 120 s. */
  readonly readyTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface Node {
  readonly name: string;
  readonly dir: string;
  readonly bridge: Pick<NodeBridge, 'name' | 'subnet' | 'gateway'>;
  /**
   * The kubelet's HTTPS port (on every address, 127.0.0.1 included), serving a certificate the
   * cluster CA signed for 127.0.0.1, the node IP and the node name.
   */
  readonly kubeletPort: number;
  /** The kubelet's /healthz port on 127.0.0.1 (plain HTTP). */
  readonly healthzPort: number;
  readonly containerdSocket: string;
  readonly bootstrapToken: BootstrapToken;
  /** The kubelet's client certificate and key after bootstrap (cert-dir/kubelet-client-current.pem). */
  readonly kubeletClientCertPath: string;
  readonly kubeletLog: string;
  readonly containerdLog: string;
  /** Milliseconds from start to the Node being Ready. */
  readonly joinMs: number;
  /** The node's own directory behind a hostPath (one of NODE_HOST_PATHS, or a path under one). */
  hostPath(p: string): string;
  /** Imports OCI archives into this node's containerd; returns the CRI image names. */
  importImages(archives: readonly string[]): Promise<string[]>;
  /** Runs ctr against this node's containerd (namespace k8s.io). */
  readonly ctr: (args: readonly string[]) => Promise<string>;
  /**
   * Host PIDs and command names (/proc/<pid>/comm) of every process of the node: those in its PID
   * namespace (containerd, the kubelet, the shims) and their descendants (the containers'
   * processes, each pod in a PID namespace of its own below the node's).
   */
  nodeProcesses(): { pid: number; command: string }[];
  /** Stops the kubelet and starts it again (pods keep running in containerd). */
  restartKubelet(): Promise<void>;
  /** Waits until the Node's Ready condition is True. */
  waitReady(timeoutMs?: number): Promise<void>;
  processes(): ManagedProcess[];
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface NodeCondition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

export async function startNode(cp: ControlPlane, o: NodeOptions): Promise<Node> {
  if (cp.service === undefined)
    throw new Error('startNode needs a control plane started with { workloads: true }');
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.name))
    throw new Error(`node name '${o.name}' is not a valid DNS label (lowercase letters, digits, '-')`);
  const log = o.log ?? (() => undefined);
  const t0 = performance.now();
  const kubeletBin = binPath('kubelet');
  if (!existsSync(kubeletBin)) throw new Error(`kubelet not found at ${kubeletBin}; run: npm run test-bins`);
  const dir = mkdtempSync(join(tmpdir(), `na-node-${o.name}-`));
  let bridge: NodeBridge | undefined;
  let containerd: Containerd | undefined;
  let kubelet: ManagedProcess | undefined;
  const cleanup = async (): Promise<void> => {
    await kubelet?.stop();
    await containerd?.stop();
    await bridge?.remove();
    if (o.keepDir !== true) rmSync(dir, { recursive: true, force: true });
  };
  const hostPath = (p: string): string => {
    const root = NODE_HOST_PATHS.find((h) => p === h || p.startsWith(`${h}/`));
    if (root === undefined)
      throw new Error(`${p} is not under a per-node host path (${NODE_HOST_PATHS.join(', ')})`);
    return join(dir, 'host', p);
  };
  try {
    const pauseArchive = builtImageArchive('pause');
    bridge = await createNodeBridge();
    log(`node ${o.name}: bridge ${bridge.name} ${bridge.subnet}, dir ${dir}`);
    const cniConfDir = join(dir, 'cni', 'net.d');
    writeCniConfig(cniConfDir, join(dir, 'cni', 'ipam'), `na-${o.name}`, bridge);
    containerd = await startContainerd({
      dir: join(dir, 'containerd'),
      sandboxImage: PAUSE_IMAGE,
      cniBinDir: cniBinDir(),
      cniConfDir,
      binds: NODE_HOST_PATHS.map((target) => ({ target, source: hostPath(target) })),
    });
    const ctrd = containerd;
    // The sandbox image must be there before the kubelet asks for a pod, or the CRI pulls it.
    const pause = await pauseArchive;
    if (imageRef(pause) !== PAUSE_IMAGE)
      throw new Error(`${pause} holds ${imageRef(pause)}, not the sandbox image ${PAUSE_IMAGE}`);
    await importImages(ctrd.ctr, [pause, ...(o.images ?? [])]);
    const token = await createBootstrapToken(cp, `test node ${o.name}`);
    const bootstrapKubeconfig = join(dir, 'bootstrap.kubeconfig');
    writeKubeconfig(bootstrapKubeconfig, cp.server, cp.pki.caCertPath, [
      { name: 'kubelet-bootstrap', token: token.token },
    ]);
    const [port, healthzPort] = await Promise.all([freePort(), freePort()]);
    const serving = await mintKubeletServing(cp.pki, dir, o.name, bridge.gateway);
    const kubeletOptions: KubeletOptions = {
      bin: kubeletBin,
      dir,
      name: o.name,
      nodeIp: bridge.gateway,
      port,
      healthzPort,
      clientCaFile: cp.pki.caCertPath,
      tlsCertFile: serving.certPath,
      tlsKeyFile: serving.keyPath,
      containerdSocket: ctrd.socket,
      bootstrapKubeconfig,
      namespaces: ctrd.namespaces,
    };
    log(`node ${o.name}: kubelet on port ${String(port)} (TLS bootstrap as ${token.user})`);
    kubelet = startKubelet(kubeletOptions);
    const paths = kubeletPaths(dir);

    const conditions = async (): Promise<NodeCondition[]> => {
      try {
        const out = await cp.kubectl(['get', 'node', o.name, '-o', 'json']);
        return (JSON.parse(out) as { status?: { conditions?: NodeCondition[] } }).status?.conditions ?? [];
      } catch {
        return [];
      }
    };
    const waitReady = async (timeoutMs = o.readyTimeoutMs ?? 120_000): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const k = kubelet;
        if (k?.hasExited === true)
          throw new Error(
            `node ${o.name}: kubelet ${k.describeExit()}; log ${k.logFile}, last lines:\n${k.tail(30)}`,
          );
        const last = await conditions();
        if (last.some((c) => c.type === 'Ready' && c.status === 'True')) return;
        if (Date.now() > deadline)
          throw new Error(
            [
              `node ${o.name} not Ready after ${String(timeoutMs / 1000)} s; conditions: ${JSON.stringify(last)}`,
              `kubelet log ${paths.logFile}, last lines:`,
              k?.tail(30) ?? '',
              `containerd log ${ctrd.process.logFile}, last lines:`,
              ctrd.process.tail(15),
            ].join('\n'),
          );
        await sleep(250);
      }
    };
    await waitReady();
    const joinMs = performance.now() - t0;
    log(`node ${o.name}: Ready in ${(joinMs / 1000).toFixed(1)} s`);
    const b = bridge;
    return {
      name: o.name,
      dir,
      bridge: { name: b.name, subnet: b.subnet, gateway: b.gateway },
      kubeletPort: port,
      healthzPort,
      containerdSocket: ctrd.socket,
      bootstrapToken: token,
      kubeletClientCertPath: join(paths.certDir, 'kubelet-client-current.pem'),
      kubeletLog: paths.logFile,
      containerdLog: ctrd.process.logFile,
      joinMs,
      hostPath,
      importImages: (archives) => importImages(ctrd.ctr, archives),
      ctr: ctrd.ctr,
      nodeProcesses: () => processesIn(ctrd.namespaces.pid),
      restartKubelet: async () => {
        await kubelet?.stop();
        kubelet = startKubelet(kubeletOptions);
      },
      waitReady,
      processes: () => [ctrd.process, ...(kubelet !== undefined ? [kubelet] : [])],
      stop: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** The processes in the PID namespace `nsPath` (/proc/<pid>/ns/pid) names, and their descendants. */
function processesIn(nsPath: string): { pid: number; command: string }[] {
  let ns: string;
  try {
    ns = readlinkSync(nsPath);
  } catch {
    return []; // the namespace's init (containerd) is gone, and with it every process in it
  }
  const all = new Map<number, { ppid: number; command: string; inNs: boolean }>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      all.set(Number(e), {
        // The fields after the ")" that ends the command name: state, ppid, …
        ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]),
        command: readFileSync(`/proc/${e}/comm`, 'utf8').trim(),
        inNs: readlinkSync(`/proc/${e}/ns/pid`) === ns,
      });
    } catch {
      // exited while we looked
    }
  }
  const mine = new Set([...all].filter(([, p]) => p.inNs).map(([pid]) => pid));
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, p] of all)
      if (!mine.has(pid) && mine.has(p.ppid)) {
        mine.add(pid);
        grew = true;
      }
  }
  return [...mine].map((pid) => ({ pid, command: all.get(pid)?.command ?? '' }));
}

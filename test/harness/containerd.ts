/**
 * One node's container runtime: Debian's containerd 1.6.20 (/usr/bin/containerd, with runc
 * 1.1.5). Why that one: kubelet 1.37 accepts it (it logs "RuntimeConfig ... Unimplemented" once
 * and carries on) and it costs no build. Everything it owns is under the node's dir: root, state,
 * socket, runc state, CNI config; only its pods' shims and containers run outside our process
 * tree (containerd daemonises each shim), so stop() and the exit hook kill those by the socket
 * they were started for.
 *
 * containerd runs inside a private mount namespace of its own (`unshare --mount --propagation
 * private`), in which the given host paths are bind mounts of per-node directories; the kubelet
 * joins that namespace (node.ts). So two nodes on one machine are two "hosts" to hostPath volumes,
 * and every container mount vanishes with the namespace.
 *
 * It is also PID 1 of a PID namespace of its own (`unshare --pid --kill-child`): when it dies the
 * kernel kills every process in that namespace — its shims and their containers — and it dies
 * with unshare, which dies with our process (pdeathsig). So even a SIGKILLed test leaves no
 * container process. (hostPID pods share this namespace: the node's own "host" PIDs.)
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess, startFailure } from './processes.js';

export const CONTAINERD = '/usr/bin/containerd';
export const CTR = '/usr/bin/ctr';
/** The namespace the CRI plugin keeps Kubernetes' images and containers in. */
export const K8S_NAMESPACE = 'k8s.io';

export interface BindMount {
  /** The host path as containers see it (a hostPath volume's path). */
  readonly target: string;
  /** The node's own directory mounted there. */
  readonly source: string;
}

export interface ContainerdOptions {
  readonly dir: string;
  readonly sandboxImage: string;
  readonly cniBinDir: string;
  readonly cniConfDir: string;
  readonly binds: readonly BindMount[];
}

export interface Containerd {
  readonly socket: string;
  readonly process: ManagedProcess;
  /** The node's mount and PID namespaces (/proc/<containerd pid>/ns/…), for nsenter. */
  readonly namespaces: { readonly mount: string; readonly pid: string };
  /** Runs ctr against this containerd in the k8s.io namespace; rejects on a non-zero exit. */
  readonly ctr: (args: readonly string[]) => Promise<string>;
  /** Kills every task (container) and its shim, then containerd. */
  readonly stop: () => Promise<void>;
}

const q = (s: string): string => JSON.stringify(s);

function configToml(o: ContainerdOptions, socket: string): string {
  return [
    'version = 2',
    `root = ${q(join(o.dir, 'root'))}`,
    `state = ${q(join(o.dir, 'state'))}`,
    // Snapshotters this machine cannot run only log an error at start; skipping them keeps the
    // log readable.
    'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]',
    '[grpc]',
    `  address = ${q(socket)}`,
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${q(join(o.dir, 'opt'))}`,
    '[plugins."io.containerd.grpc.v1.cri"]',
    `  sandbox_image = ${q(o.sandboxImage)}`,
    // Root here lacks CAP_SYS_RESOURCE: runc cannot give a container a lower oom_score_adj than
    // its own, and without this every sandbox fails "can't get final child's PID from pipe: EOF".
    '  restrict_oom_score_adj = true',
    '  [plugins."io.containerd.grpc.v1.cri".containerd]',
    '    snapshotter = "overlayfs"',
    '    default_runtime_name = "runc"',
    '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
    '      runtime_type = "io.containerd.runc.v2"',
    '      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
    // The kubelet's cgroupDriver is cgroupfs (no systemd here): both must agree.
    '        SystemdCgroup = false',
    // runc's state per node, not the shared /run/containerd/runc.
    `        Root = ${q(join(o.dir, 'runc'))}`,
    '  [plugins."io.containerd.grpc.v1.cri".cni]',
    `    bin_dir = ${q(o.cniBinDir)}`,
    `    conf_dir = ${q(o.cniConfDir)}`,
    '    max_conf_num = 1',
    '',
  ].join('\n');
}

/**
 * The shell wrapper that makes the mount namespace's bind mounts, then execs containerd (unshare's
 * child: --kill-child ties it to unshare, which has the pdeathsig of processes.ts). The mount
 * points are created on the host only if missing: empty directories, used only as mount points.
 */
const WRAPPER = [
  'set -e',
  'while [ "$1" != "--" ]; do mkdir -p "$2"; mount --bind "$1" "$2"; shift 2; done',
  'shift',
  'exec "$@"',
].join('\n');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startContainerd(o: ContainerdOptions): Promise<Containerd> {
  mkdirSync(o.dir, { recursive: true });
  const socket = join(o.dir, 'containerd.sock');
  const config = join(o.dir, 'config.toml');
  writeFileSync(config, configToml(o, socket));
  for (const b of o.binds) mkdirSync(b.source, { recursive: true });
  const proc = new ManagedProcess({
    name: 'containerd',
    command: 'unshare',
    signalChild: true,
    logFile: join(o.dir, 'containerd.log'),
    args: [
      '--mount',
      '--propagation',
      'private',
      // unshare forks containerd as PID 1 of the new namespace and SIGKILLs it if unshare dies.
      '--pid',
      '--kill-child=SIGKILL',
      // containerd finds its own namespaces under /proc/<its pid>: the /proc of its PID namespace.
      '--mount-proc',
      '--',
      'sh',
      '-c',
      WRAPPER,
      'containerd-ns',
      ...o.binds.flatMap((b) => [b.source, b.target]),
      '--',
      CONTAINERD,
      '--config',
      config,
    ],
  });
  const ctr = (args: readonly string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(
        CTR,
        ['-a', socket, '-n', K8S_NAMESPACE, ...args],
        { encoding: 'utf8', timeout: 120_000, maxBuffer: 16 << 20 },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`ctr ${args.join(' ')}: ${stderr.trim() || err.message}`));
          else resolve(stdout);
        },
      );
    });
  const stop = async (): Promise<void> => {
    if (!proc.hasExited) {
      try {
        const ids = (await ctr(['tasks', 'ls', '-q'])).split('\n').filter((l) => l !== '');
        for (const id of ids) await ctr(['tasks', 'kill', '-a', '-s', 'SIGKILL', id]).catch(() => undefined);
        for (const id of ids) await ctr(['tasks', 'delete', '-f', id]).catch(() => undefined);
      } catch {
        // containerd not answering: the shims are killed below all the same
      }
    }
    killShims(socket);
    await proc.stop();
  };
  registerShimCleanup(socket);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.hasExited) throw startFailure(proc, 'it exited while starting');
    if (existsSync(socket)) {
      try {
        await ctr(['version']);
        break;
      } catch {
        // socket there, not serving yet
      }
    }
    if (Date.now() > deadline) {
      await stop();
      throw startFailure(proc, `its socket ${socket} did not answer within 30 s`);
    }
    await sleep(100);
  }
  const pid = proc.programPid;
  if (pid === undefined) {
    await stop();
    throw startFailure(proc, 'unshare forked no containerd');
  }
  return {
    socket,
    process: proc,
    namespaces: { mount: `/proc/${String(pid)}/ns/mnt`, pid: `/proc/${String(pid)}/ns/pid` },
    ctr,
    stop,
  };
}

/**
 * SIGKILLs every containerd shim started for `socket` and all their descendants (the containers'
 * processes). Synchronous, so the exit hook can use it. Shims are found by the `-address <socket>`
 * on their command line, the one thing tying them to their containerd.
 */
export function killShims(socket: string): number {
  const parent = new Map<number, number>();
  const shims: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // The fields after the ")" that ends the command name: state, ppid, …
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(pid, ppid);
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if ((argv[0] ?? '').includes('containerd-shim') && argv.includes(socket)) shims.push(pid);
    } catch {
      // exited while we looked
    }
  }
  const doomed = new Set(shims);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent)
      if (!doomed.has(pid) && doomed.has(ppid)) {
        doomed.add(pid);
        grew = true;
      }
  }
  for (const pid of doomed)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  return doomed.size;
}

const sockets = new Set<string>();
let hooked = false;
function registerShimCleanup(socket: string): void {
  sockets.add(socket);
  if (hooked) return;
  hooked = true;
  // Shims outlive containerd and our process: kill them when the test process exits, whatever
  // the reason (containerd and the kubelet die by their pdeathsig).
  process.once('exit', () => {
    for (const s of sockets) killShims(s);
  });
}

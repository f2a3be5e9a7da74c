/**
 * The few host network objects a cluster with nodes needs, made with `ip` and removed on stop:
 * a /32 on `lo` for the `kubernetes` Service ClusterIP, and one Linux bridge per node with its
 * gateway address. Addresses are picked at random from fixed ranges and claimed atomically
 * (`ip addr add` / `ip link add` fail when taken), skipping any range a route or address on this
 * machine already touches, so two nodes and two clusters at once never collide.
 *
 * Each object is tagged with our PID (the bridge's alias `na-harness:<pid>`, the address's label
 * `lo:na<pid>`): exit hooks remove them on any normal exit, and what a SIGKILLed harness left is
 * removed by the next one (reapStaleHostNet) once that PID is gone.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';

/** The service ranges are 10.96.X.0/24, the node bridges 10.244.X.0/24 (X picked per use). */
const SERVICE_PREFIX = '10.96';
const POD_PREFIX = '10.244';
/** Bridges this harness makes are named `na-br<X>` (≤ 15 characters, the kernel's limit). */
const BRIDGE_PREFIX = 'na-br';

function ip(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { encoding: 'utf8', timeout: 10_000 }, (err, _out, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}

function toInt(addr: string): number {
  return addr.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/** Whether two IPv4 CIDRs share any address. */
export function cidrsOverlap(a: string, b: string): boolean {
  const [aa, al] = a.split('/');
  const [ba, bl] = b.split('/');
  const len = Math.min(Number(al ?? 32), Number(bl ?? 32));
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return (toInt(aa ?? '') & mask) >>> 0 === (toInt(ba ?? '') & mask) >>> 0;
}

/** Every IPv4 prefix this machine has as an address or a route, in any table. */
function prefixesInUse(): string[] {
  const out: string[] = [];
  const addrs = JSON.parse(execFileSync('ip', ['-j', '-4', 'addr', 'show'], { encoding: 'utf8' })) as {
    addr_info?: { local?: string; prefixlen?: number }[];
  }[];
  for (const l of addrs)
    for (const a of l.addr_info ?? [])
      if (a.local !== undefined) out.push(`${a.local}/${String(a.prefixlen ?? 32)}`);
  const routes = JSON.parse(
    execFileSync('ip', ['-j', '-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }),
  ) as { dst?: string }[];
  for (const r of routes)
    if (r.dst !== undefined && r.dst !== 'default') out.push(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
  return out;
}

/** Random X in 1..254 whose `<prefix>.X.0/24` touches nothing in use, in random order. */
function candidates(prefix: string): number[] {
  const used = prefixesInUse().filter((p) => !p.startsWith('0.'));
  const free: number[] = [];
  for (let x = 1; x < 255; x++) {
    const net = `${prefix}.${String(x)}.0/24`;
    // A default-like route (/0../8 covering all of 10/8) would make every pick "overlap": only
    // prefixes at least as specific as /16 count as taken.
    if (!used.some((u) => Number(u.split('/')[1]) >= 16 && cidrsOverlap(u, net))) free.push(x);
  }
  for (let i = free.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [free[i], free[j]] = [free[j]!, free[i]!];
  }
  return free;
}

const BRIDGE_ALIAS = 'na-harness:';
const ADDR_LABEL = 'lo:na';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A Linux bridge on this machine, and the harness process that made it (from its alias), if one did. */
export interface HostBridge {
  readonly name: string;
  readonly ownerPid: number | undefined;
}

/** Every bridge on the machine (`ip -j link show type bridge`), with its harness owner. */
export function listBridges(): HostBridge[] {
  const links = JSON.parse(
    execFileSync('ip', ['-j', 'link', 'show', 'type', 'bridge'], { encoding: 'utf8' }),
  ) as { ifname?: string; ifalias?: string }[];
  return links.flatMap((l) => {
    if (l.ifname === undefined) return [];
    const owner =
      l.ifalias?.startsWith(BRIDGE_ALIAS) === true ? Number(l.ifalias.slice(BRIDGE_ALIAS.length)) : NaN;
    return [{ name: l.ifname, ownerPid: Number.isInteger(owner) ? owner : undefined }];
  });
}

/**
 * Removes the bridges and `lo` addresses a harness process that no longer runs left behind (it was
 * SIGKILLed: no exit hook ran). Objects of live harnesses, and any not tagged by us, are left
 * alone. Returns what it removed.
 */
export function reapStaleHostNet(): string[] {
  const removed: string[] = [];
  for (const b of listBridges()) {
    if (b.ownerPid === undefined || pidAlive(b.ownerPid)) continue;
    try {
      execFileSync('ip', ['link', 'del', b.name], { stdio: 'ignore' });
      removed.push(b.name);
    } catch {
      // another harness removed it first
    }
  }
  const lo = JSON.parse(
    execFileSync('ip', ['-j', '-4', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' }),
  ) as {
    addr_info?: { local?: string; prefixlen?: number; label?: string }[];
  }[];
  for (const a of lo.flatMap((l) => l.addr_info ?? [])) {
    const owner = a.label?.startsWith(ADDR_LABEL) === true ? Number(a.label.slice(ADDR_LABEL.length)) : NaN;
    if (a.local === undefined || !Number.isInteger(owner) || pidAlive(owner)) continue;
    try {
      execFileSync('ip', ['addr', 'del', `${a.local}/${String(a.prefixlen ?? 32)}`, 'dev', 'lo'], {
        stdio: 'ignore',
      });
      removed.push(`${a.local} on lo`);
    } catch {
      // another harness removed it first
    }
  }
  return removed;
}

export interface ServiceAddress {
  /** The Service range for --service-cluster-ip-range, e.g. 10.96.7.0/24. */
  readonly range: string;
  /** Its first address: the `kubernetes` Service ClusterIP, added to `lo`. */
  readonly ip: string;
  remove(): Promise<void>;
}

/** Claims a free 10.96.X.0/24 and puts 10.96.X.1/32 on `lo`. */
export async function claimServiceAddress(): Promise<ServiceAddress> {
  reapStaleHostNet();
  for (const x of candidates(SERVICE_PREFIX)) {
    const addr = `${SERVICE_PREFIX}.${String(x)}.1`;
    try {
      await ip(['addr', 'add', `${addr}/32`, 'dev', 'lo', 'label', `${ADDR_LABEL}${String(process.pid)}`]);
    } catch (err) {
      if (String(err).includes('File exists')) continue;
      throw err;
    }
    const remove = (): Promise<void> => ip(['addr', 'del', `${addr}/32`, 'dev', 'lo']).catch(() => undefined);
    onExit(() => execFileSync('ip', ['addr', 'del', `${addr}/32`, 'dev', 'lo'], { stdio: 'ignore' }));
    return { range: `${SERVICE_PREFIX}.${String(x)}.0/24`, ip: addr, remove };
  }
  throw new Error(`no free ${SERVICE_PREFIX}.X.0/24 service range on this machine`);
}

export interface NodeBridge {
  readonly name: string;
  /** The pods' subnet, e.g. 10.244.7.0/24. */
  readonly subnet: string;
  /** The bridge's own address: the pods' gateway and the kubelet's --node-ip. */
  readonly gateway: string;
  remove(): Promise<void>;
}

/** Claims a free 10.244.X.0/24 and makes bridge na-br<X> holding 10.244.X.1/24, up. */
export async function createNodeBridge(): Promise<NodeBridge> {
  reapStaleHostNet();
  for (const x of candidates(POD_PREFIX)) {
    const name = `${BRIDGE_PREFIX}${String(x)}`;
    try {
      await ip(['link', 'add', 'name', name, 'type', 'bridge']);
    } catch (err) {
      if (String(err).includes('File exists')) continue;
      throw err;
    }
    const remove = (): Promise<void> => ip(['link', 'del', name]).catch(() => undefined);
    onExit(() => execFileSync('ip', ['link', 'del', name], { stdio: 'ignore' }));
    const gateway = `${POD_PREFIX}.${String(x)}.1`;
    try {
      await ip(['link', 'set', name, 'alias', `${BRIDGE_ALIAS}${String(process.pid)}`]);
      await ip(['addr', 'add', `${gateway}/24`, 'dev', name]);
      await ip(['link', 'set', name, 'up']);
    } catch (err) {
      await remove();
      throw err;
    }
    return { name, subnet: `${POD_PREFIX}.${String(x)}.0/24`, gateway, remove };
  }
  throw new Error(`no free ${POD_PREFIX}.X.0/24 pod subnet on this machine`);
}

// Removal when the test process exits without stopping (a failed assertion, an uncaught error):
// synchronous, best effort; a removed object makes its command fail, which is ignored.
const exitHooks: (() => void)[] = [];
let hooked = false;
function onExit(fn: () => void): void {
  exitHooks.push(fn);
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const f of exitHooks)
      try {
        f();
      } catch {
        // already gone
      }
  });
}

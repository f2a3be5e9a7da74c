/**
 * The server plugin under load: many concurrent attestations (valid ECDSA P-256 chains, full
 * challenge round) driven over gRPC the way spire-server drives it, against the raw node:crypto
 * cost of the same verifications in one process (the limit), on the shipped Node line.
 *
 * The host side (the gRPC client and the agent's signatures) runs in this process, on the same
 * cores as the plugin, so the wall-clock rate is shared between them. The plugin's own CPU time
 * (from /proc) gives the fair figure: attestations per CPU-second of the plugin, beside the
 * limit's operations per CPU-second. Also the plugin's resident memory, idle and under load.
 *
 * The plugin runs as users ship it: the single executable (dist/k8s-csr-server-plugin, its heap
 * flags in its own execArgv), exec'd as spire-server execs plugin_cmd; then the .mjs bundle under
 * the same pinned Node with the flags of its launcher line (bench/lib/launcher.ts), and once more
 * without them (plain `node plugin.mjs`) for what they cost. BENCH_SERVER_PLUGIN runs another
 * build of the .mjs (e.g. an older one, for a before/after); BENCH_PLUGIN_NODE_ARGS adds Node
 * flags to the .mjs runs, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p" (the profile is written when
 * the plugin exits at the end).
 */
import { execFile } from 'node:child_process';
import { sign, randomBytes } from 'node:crypto';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { answerChallenge, encodePayload } from '../src/attestation/agent.js';
import { REPO_ROOT } from '../test/harness/bins.js';
import { FakeSpireHost } from '../test/support/fake-spire-host.js';
import { createCa, createNodeClientCert, type TestCert } from '../test/support/pki.js';
import { launcherFlags } from './lib/launcher.js';
import { distFile, pinnedNode, type NodeBinary } from './lib/node-binaries.js';
import { preparePageCache } from './lib/page-cache.js';
import { cpuSeconds, ownCpuSeconds, rssMb, rssSplitMb } from './lib/proc.js';
import { row, type Row } from './lib/report.js';

/** The goal for resident memory, idle and under load. */
export const MEMORY_GOAL_MB = 80;
const WARM_UP = 200;

interface Fixture {
  readonly work: string;
  readonly ca: TestCert;
  readonly leaves: readonly TestCert[];
  readonly payloads: readonly Buffer[];
  /** Input of bench/lib/raw-verify.mjs. */
  readonly rawInput: string;
}

async function fixture(): Promise<Fixture> {
  const work = mkdtempSync(join(tmpdir(), 'na-bench-srv-'));
  const ca = await createCa('CN=bench-ca');
  writeFileSync(join(work, 'ca.crt'), ca.pem);
  const leaves = await Promise.all(
    Array.from({ length: 32 }, (_, i) => createNodeClientCert(ca, `bench-${String(i)}`)),
  );
  const payloads = leaves.map((l) => encodePayload({ certificates: [l.der], cluster: 'bench' }));
  const rawInput = join(work, 'raw.json');
  writeFileSync(
    rawInput,
    JSON.stringify({
      caSpki: ca.cert.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      leaves: leaves.map((l) => {
        const data = randomBytes(64);
        const sig = sign('sha256', data, { key: l.key.privateKey, dsaEncoding: 'ieee-p1363' });
        return { der: l.der.toString('base64'), data: data.toString('base64'), sig: sig.toString('base64') };
      }),
    }),
  );
  return { work, ca, leaves, payloads, rawInput };
}

interface Limit {
  readonly opsPerSecond: number;
  readonly opsPerCpuSecond: number;
}

/** The limit, measured in a child process under `node` while nothing else of ours runs. */
async function rawLimit(node: NodeBinary, f: Fixture, n: number): Promise<Limit> {
  const { stdout } = await promisify(execFile)(
    node.path,
    [join(REPO_ROOT, 'bench', 'lib', 'raw-verify.mjs'), f.rawInput, String(n)],
    { timeout: 300_000 },
  );
  const r = JSON.parse(stdout) as { ops: number; wallMs: number; cpuMs: number };
  return { opsPerSecond: r.ops / (r.wallMs / 1000), opsPerCpuSecond: r.ops / (r.cpuMs / 1000) };
}

interface Load {
  readonly seconds: number;
  readonly pluginCpu: number;
  readonly hostCpu: number;
  readonly peakMb: number;
  readonly latencies: readonly number[];
  readonly failures: number;
  readonly firstFailure: string;
}

/** `total` attestations, `concurrency` at a time, each checked for the right agent ID. */
async function load(
  host: FakeSpireHost,
  pid: number,
  f: Fixture,
  total: number,
  concurrency: number,
): Promise<Load> {
  let next = 0;
  let peakMb = rssMb(pid);
  let failures = 0;
  let firstFailure = '';
  const latencies: number[] = [];
  const sampler = setInterval(() => {
    peakMb = Math.max(peakMb, rssMb(pid));
  }, 50);
  const cpu0 = cpuSeconds(pid);
  const host0 = ownCpuSeconds();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const leaf = f.leaves[i % f.leaves.length]!;
        const started = performance.now();
        try {
          const out = await host.attest(f.payloads[i % f.payloads.length]!, (c) =>
            answerChallenge(c, leaf.key.privateKey),
          );
          if (!out.attributes.spiffeId.endsWith(`/bench-${String(i % f.leaves.length)}`))
            throw new Error(`wrong agent ID ${out.attributes.spiffeId}`);
          latencies.push(performance.now() - started);
        } catch (err) {
          // Counted, not fatal: under Node 20 the HTTP/2 reset limit fails a batch (documented).
          failures += 1;
          firstFailure ||= err instanceof Error ? err.message : String(err);
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  return {
    seconds,
    pluginCpu: cpuSeconds(pid) - cpu0,
    hostCpu: ownCpuSeconds() - host0,
    peakMb: Math.max(peakMb, rssMb(pid)),
    latencies,
    failures,
    firstFailure,
  };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

/** How the plugin is started: a command line, and the Node it runs on (for the limit). */
interface Target {
  readonly label: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly node: NodeBinary;
}

function executableTarget(node: NodeBinary): Target {
  return {
    label: `single executable, ${node.label}`,
    command: distFile('k8s-csr-server-plugin'),
    args: [],
    node,
  };
}

function bundleTarget(node: NodeBinary, launcher: boolean): Target {
  const plugin = process.env.BENCH_SERVER_PLUGIN ?? distFile('k8s-csr-server-plugin.mjs');
  const nodeArgs = (process.env.BENCH_PLUGIN_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
  const flags = launcher ? launcherFlags(plugin) : [];
  return {
    label: `.mjs, ${node.label}${launcher ? '' : ', without the launcher flags'}`,
    command: node.path,
    args: [...flags, ...nodeArgs, plugin],
    node,
  };
}

async function runOn(
  target: Target,
  f: Fixture,
  total: number,
  concurrency: number,
  rounds: number,
): Promise<Row[]> {
  const node = target.node;
  const host = await FakeSpireHost.launch({ command: target.command, args: target.args });
  try {
    await host.load({
      trustDomain: 'example.org',
      hcl: `clusters = { "bench" = { ca_bundle_path = "${join(f.work, 'ca.crt')}" } }`,
    });
    const pid = host.pid;
    if (pid === undefined) throw new Error('no plugin pid');
    const warm = await load(host, pid, f, WARM_UP, concurrency);
    await new Promise((r) => setTimeout(r, 1000));
    const idle = [rssMb(pid)];
    const wall: number[] = [];
    const perCpu: number[] = [];
    const limitWall: number[] = [];
    const limitCpu: number[] = [];
    const pluginMs: number[] = [];
    const hostMs: number[] = [];
    const peak: number[] = [];
    const latencies: number[] = [];
    let failures = warm.failures;
    let firstFailure = warm.firstFailure;
    for (let round = 0; round < rounds; round++) {
      const r = await load(host, pid, f, total, concurrency);
      const ok = r.latencies.length;
      wall.push(ok / r.seconds);
      perCpu.push(ok / r.pluginCpu);
      pluginMs.push((1000 * r.pluginCpu) / ok);
      hostMs.push((1000 * r.hostCpu) / ok);
      peak.push(r.peakMb);
      latencies.push(...r.latencies);
      failures += r.failures;
      firstFailure ||= r.firstFailure;
      const limit = await rawLimit(node, f, total);
      limitWall.push(limit.opsPerSecond);
      limitCpu.push(limit.opsPerCpuSecond);
    }
    // Idle again: a second after the last round, once nothing is in flight.
    await new Promise((r) => setTimeout(r, 1000));
    idle.push(rssMb(pid));
    const split = rssSplitMb(pid);
    const bench = `server plugin (${target.label})`;
    const attempted = WARM_UP + total * rounds;
    const failed =
      failures === 0
        ? `0 of ${String(attempted)} attestations failed`
        : `${String(failures)} of ${String(attempted)} attestations failed (first: ${firstFailure})`;
    const limitName = `raw node:crypto, 1 process, ${node.label}`;
    return [
      row(
        bench,
        `attestations/s, ${String(concurrency)} concurrent, wall clock (host on the same cores)`,
        'ops/s',
        wall,
        {
          baseline: { name: limitName, samples: limitWall },
          goal: ({ ratio }) => ({ text: '≥ 0.5× the limit', met: (ratio ?? 0) >= 0.5 }),
          note: `${failed}; host side (gRPC client + agent signatures, this process) ${median(hostMs).toFixed(2)} ms CPU per attestation`,
        },
      ),
      row(bench, 'attestations per CPU-second of the plugin (host excluded)', 'ops/s', perCpu, {
        baseline: { name: `${limitName}, per CPU-second`, samples: limitCpu },
        goal: ({ ratio }) => ({ text: '≥ 0.5× the limit', met: (ratio ?? 0) >= 0.5 }),
        note: `plugin ${median(pluginMs).toFixed(2)} ms CPU per attestation; the limit ${(1000 / median(limitCpu)).toFixed(2)} ms`,
      }),
      row(bench, 'attestation latency (host view)', 'ms', latencies),
      row(bench, 'resident memory, idle', 'MB', idle, {
        goal: ({ median: m }) => ({ text: `< ${String(MEMORY_GOAL_MB)} MB`, met: m < MEMORY_GOAL_MB }),
        // The file-backed part is the Node binary's code pages, shared with every process running
        // the same file and reclaimable; the anonymous part is the plugin's own.
        note: `at the end: ${split.anon.toFixed(1)} MB anonymous (heap, malloc), ${split.file.toFixed(1)} MB file-backed (the binary's code pages)`,
      }),
      row(bench, 'resident memory, peak under load', 'MB', peak, {
        goal: ({ median: m }) => ({ text: `< ${String(MEMORY_GOAL_MB)} MB`, met: m < MEMORY_GOAL_MB }),
      }),
    ];
  } finally {
    await host.unload().catch(() => undefined);
    await host.dispose();
  }
}

export async function serverAttest(total: number, concurrency: number, rounds: number): Promise<Row[]> {
  const f = await fixture();
  try {
    const node = pinnedNode('shipped');
    // A stated page-cache state for the executable (bench/lib/page-cache.ts): its pages faulted
    // in by the plugin, not left as large folios by whatever last read it whole.
    const exe = executableTarget(node);
    preparePageCache(realpathSync(exe.command), 'faulted');
    return [
      ...(await runOn(exe, f, total, concurrency, rounds)),
      ...(await runOn(bundleTarget(node, true), f, total, concurrency, rounds)),
      // Without the launcher's heap flags (plain `node plugin.mjs`): what they cost and save.
      ...(await runOn(bundleTarget(node, false), f, total, concurrency, 1)),
    ];
  } finally {
    rmSync(f.work, { recursive: true, force: true });
  }
}

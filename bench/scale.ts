/**
 * Scale against one API server: N node identities requested at once from a real control plane
 * (etcd, kube-apiserver, kube-controller-manager with the CSR controllers), time until every one
 * is written, failures, what the API server and the controller manager show of throttling, and
 * the CSR objects left behind. Beside it, the time of a single identity (N = 1) in the same run.
 *
 * The N nodes run as concurrent obtainIdentity calls (the library the CLI and the agent plugin
 * share), each with its own Kubernetes client and connections, spread over a few worker
 * processes: 500 Node processes (~50 MB and ~0.3 s of CPU each just to start) would measure this
 * 2-core machine, not the API server. N = 10 also runs as 10 real node-attestor processes, as a
 * cross-check of the library figure.
 *
 * Then the same N with kube-controller-manager's client limits raised (--kube-api-qps/burst),
 * which is what bounds the approval and signing rate. Writes bench/results/scale.png.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../test/harness/bins.js';
import { startControlPlane, type ControlPlane } from '../test/harness/control-plane.js';
import { writeKubeconfig } from '../test/harness/kubeconfig.js';
import { writeScalingChart, type PhasePoint, type ScalePoint } from './lib/chart.js';
import { row, type Row } from './lib/report.js';
import type { NodeTimeline, WorkerInput, WorkerOutput } from './lib/scale-worker.js';
import { summarize } from './lib/stats.js';
import { timeProcess } from './lib/timing.js';

export interface ScaleOptions {
  /** N values, e.g. [10, 100, 500]. */
  readonly sizes: readonly number[];
  /** Runs of each N (the largest runs once more only if time allows: see rounds). */
  readonly rounds: number;
  /** Worker processes for the library runs. */
  readonly workers: number;
  /** kube-controller-manager flags of the second configuration. */
  readonly raisedKcmArgs: readonly string[];
}

export const DEFAULT_SCALE: ScaleOptions = {
  sizes: [10, 100, 500],
  rounds: 2,
  workers: 4,
  raisedKcmArgs: ['--kube-api-qps=200', '--kube-api-burst=400'],
};

interface Run {
  readonly n: number;
  readonly seconds: number;
  readonly nodes: readonly NodeTimeline[];
  readonly statuses: Readonly<Record<string, number>>;
  readonly retries: number;
  readonly createRetries: number;
  readonly apiserver429: number;
  readonly kcmRateLimitSeconds: number;
  readonly csrsLeft: number;
  readonly csrsUnsigned: number;
}

interface Cluster {
  readonly cp: ControlPlane;
  readonly cred: { certPath: string; keyPath: string };
  readonly work: string;
}

async function cluster(kcmArgs: readonly string[]): Promise<Cluster> {
  const cp = await startControlPlane({ controllerManagerArgs: [...KCM_METRICS_ARGS, ...kcmArgs] });
  try {
    const cred = await cp.setUpSpireAgent();
    return { cp, cred, work: mkdtempSync(join(tmpdir(), 'na-bench-scale-')) };
  } catch (err) {
    await cp.stop();
    throw err;
  }
}

/** Sum of a Prometheus counter's samples whose labels match `labels`. */
function counter(metrics: string, name: string, labels = /.*/): number {
  let sum = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const brace = line.indexOf('}');
    const labelText = brace < 0 ? '' : line.slice(name.length + 1, brace);
    if (!labels.test(labelText)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return sum;
}

async function api429(c: Cluster): Promise<number> {
  const r = await c.cp.adminRequest('GET', '/metrics');
  return counter(r.body, 'apiserver_request_total', /code="429"/);
}

/** Lets the benchmark read kube-controller-manager's /metrics without credentials. */
const KCM_METRICS_ARGS = ['--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics'];

/**
 * Seconds kube-controller-manager's API clients have spent waiting on their own rate limiter
 * (--kube-api-qps/--kube-api-burst), from its rest_client_rate_limiter_duration_seconds.
 */
async function kcmRateLimitWait(c: Cluster): Promise<number> {
  const kcm = c.cp.processes.find((p) => p.name === 'kube-controller-manager');
  const port = kcm?.child.spawnargs.find((a) => a.startsWith('--secure-port='))?.split('=')[1];
  if (port === undefined) return Number.NaN;
  const body = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: Number(port), path: '/metrics', rejectUnauthorized: false, timeout: 10_000 },
      (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (b += d));
        res.on('end', () => {
          resolve(res.statusCode === 200 ? b : '');
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
  return body === '' ? Number.NaN : counter(body, 'rest_client_rate_limiter_duration_seconds_sum');
}

async function csrsOf(c: Cluster, prefix: string): Promise<{ total: number; unsigned: number }> {
  const r = await c.cp.adminRequest('GET', '/apis/certificates.k8s.io/v1/certificatesigningrequests');
  if (r.status !== 200) throw new Error(`listing CSRs: HTTP ${String(r.status)}`);
  const list = JSON.parse(r.body) as {
    items: { metadata: { name: string }; status?: { certificate?: string } }[];
  };
  const mine = list.items.filter((i) => i.metadata.name.startsWith(prefix));
  return { total: mine.length, unsigned: mine.filter((i) => !i.status?.certificate).length };
}

/** Starts the workers, waits until all are ready, starts them together, collects their output. */
async function libraryRun(c: Cluster, n: number, workers: number, tag: string): Promise<Run> {
  const nodes = Array.from({ length: n }, (_, i) => `${tag}-${String(i)}`);
  const count = Math.min(workers, n);
  const dir = join(c.work, tag);
  mkdirSync(dir, { recursive: true });
  const before429 = await api429(c);
  const beforeWaits = await kcmRateLimitWait(c);
  const children = Array.from({ length: count }, (_, w) => {
    const input: WorkerInput = {
      server: c.cp.server,
      caCert: c.cp.pki.caCertPath,
      clientCert: c.cred.certPath,
      clientKey: c.cred.keyPath,
      nodes: nodes.filter((_n, i) => i % count === w),
      dir,
      approvalTimeoutMs: 600_000,
    };
    const file = join(dir, `worker-${String(w)}.json`);
    writeFileSync(file, JSON.stringify(input));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'bench', 'lib', 'scale-worker.ts'), file],
      {
        cwd: REPO_ROOT,
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    const lines = createInterface({ input: child.stdout });
    const ready = new Promise<void>((resolve, reject) => {
      lines.once('line', (l) => {
        if (l === 'ready') resolve();
        else reject(new Error(`worker said ${l}`));
      });
      child.once('exit', (code) => {
        reject(new Error(`worker exited ${String(code)} before it was ready`));
      });
    });
    const output = ready.then(
      () =>
        new Promise<WorkerOutput>((resolve, reject) => {
          lines.once('line', (l) => {
            resolve(JSON.parse(l) as WorkerOutput);
          });
          child.once('exit', (code) => {
            reject(new Error(`worker exited ${String(code)} without a result`));
          });
        }),
    );
    return { child, ready, output };
  });
  await Promise.all(children.map((w) => w.ready));
  const t0 = Date.now();
  for (const w of children) w.child.stdin.end('go\n');
  const outputs = await Promise.all(children.map((w) => w.output));
  const all = outputs.flatMap((o) => o.nodes);
  const end = Math.max(...all.map((t) => t.done ?? Date.now()));
  const statuses: Record<string, number> = {};
  for (const o of outputs)
    for (const [k, v] of Object.entries(o.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  const left = await csrsOf(c, `node-csr-${tag}-`);
  return {
    n,
    seconds: (end - t0) / 1000,
    nodes: all,
    statuses,
    retries: outputs.reduce((s, o) => s + o.retries, 0),
    createRetries: outputs.reduce((s, o) => s + o.createRetries, 0),
    apiserver429: (await api429(c)) - before429,
    kcmRateLimitSeconds: (await kcmRateLimitWait(c)) - beforeWaits,
    csrsLeft: left.total,
    csrsUnsigned: left.unsigned,
  };
}

/** N real node-attestor processes started at once; seconds until the last one exits. */
async function processRun(c: Cluster, n: number, tag: string): Promise<number> {
  const kubeconfig = join(c.work, 'spire-agent.kubeconfig');
  writeKubeconfig(kubeconfig, c.cp.server, c.cp.pki.caCertPath, [
    { name: 'spire-agent', certPath: c.cred.certPath, keyPath: c.cred.keyPath },
  ]);
  const cli = join(REPO_ROOT, 'dist', 'node-attestor.mjs');
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      timeProcess(process.execPath, [
        cli,
        '-kubeconfig',
        kubeconfig,
        '-agent-name',
        `${tag}-${String(i)}`,
        '-id-dir',
        join(c.work, tag, String(i)),
        '-log-level',
        'warn',
      ]),
    ),
  );
  return (performance.now() - t0) / 1000;
}

const phasesOf = (t: NodeTimeline): Record<string, number> | undefined => {
  if (t.submitted === undefined || t.issued === undefined || t.done === undefined) return undefined;
  const approved = t.approved ?? t.submitted;
  return {
    'key + CSR + create': (t.submitted - t.start) / 1000,
    'wait for approval': (approved - t.submitted) / 1000,
    'wait for signing': (t.issued - approved) / 1000,
    'verify + write': (t.done - t.issued) / 1000,
  };
};
const PHASES = ['key + CSR + create', 'wait for approval', 'wait for signing', 'verify + write'];

function describeRun(r: Run): string {
  const failed = r.nodes.filter((t) => !t.ok);
  const codes = Object.entries(r.statuses)
    .sort()
    .map(([k, v]) => `${k}×${String(v)}`)
    .join(' ');
  return [
    `${String(failed.length)} failed${failed[0]?.error !== undefined ? ` (first: ${failed[0].error})` : ''}`,
    `client saw HTTP ${codes}, retried ${String(r.createRetries)} creates and ${String(r.retries)} waits`,
    `API server counted ${String(r.apiserver429)} 429s`,
    `KCM's clients waited ${r.kcmRateLimitSeconds.toFixed(0)} s in all on their rate limiter`,
    `${String(r.csrsLeft)} CSR objects left (${String(r.csrsUnsigned)} without a certificate)`,
  ].join('; ');
}

export async function scale(o: ScaleOptions = DEFAULT_SCALE): Promise<Row[]> {
  const rows: Row[] = [];
  const totals: ScalePoint[] = [];
  const phases: PhasePoint[] = [];
  const configs = [
    { name: 'defaults', label: 'KCM defaults (qps 20, burst 30)', args: [] as readonly string[] },
    {
      name: `KCM ${o.raisedKcmArgs.join(' ')}`,
      label: 'KCM raised (qps 200, burst 400)',
      args: o.raisedKcmArgs,
    },
  ];
  for (const [ci, config] of configs.entries()) {
    const c = await cluster(config.args);
    try {
      const single: number[] = [];
      for (let r = 0; r < 3; r++)
        single.push((await libraryRun(c, 1, 1, `c${String(ci)}-one-${String(r)}`)).seconds);
      if (ci === 0) {
        const procs: number[] = [];
        const lib: number[] = [];
        for (let r = 0; r < o.rounds; r++) {
          procs.push(await processRun(c, 10, `c0-proc-${String(r)}`));
          lib.push((await libraryRun(c, 10, o.workers, `c0-lib10-${String(r)}`)).seconds);
        }
        rows.push(
          row(
            'scale (defaults)',
            'N = 10 as real node-attestor processes: all written',
            'ms',
            procs.map((s) => s * 1000),
            {
              baseline: { name: 'N = 10 as library calls', samples: lib.map((s) => s * 1000) },
              note: 'cross-check: real processes add their start-up and compete for the 2 cores',
            },
          ),
        );
      }
      const sizes = ci === 0 ? o.sizes : o.sizes.filter((n) => n >= 100);
      for (const n of sizes) {
        const runs: Run[] = [];
        for (let r = 0; r < o.rounds; r++)
          runs.push(await libraryRun(c, n, o.workers, `c${String(ci)}-n${String(n)}-${String(r)}`));
        for (const r of runs)
          process.stderr.write(
            `bench: scale ${config.name} N=${String(n)}: ${r.seconds.toFixed(1)} s; ${describeRun(r)}\n`,
          );
        const secs = runs.map((r) => r.seconds * 1000);
        const failures = runs.reduce((s, r) => s + r.nodes.filter((t) => !t.ok).length, 0);
        rows.push(
          row(`scale (${config.name})`, `N = ${String(n)} at once: all identities written`, 'ms', secs, {
            baseline: { name: 'N = 1', samples: single.map((s) => s * 1000) },
            goal: () => ({ text: '0 failures', met: failures === 0 }),
            note: runs.map(describeRun).join(' | '),
          }),
        );
        const perNode = runs.flatMap((r) =>
          r.nodes.filter((t) => t.done !== undefined).map((t) => (t.done ?? 0) - t.start),
        );
        rows.push(
          row(`scale (${config.name})`, `N = ${String(n)}: one node, start → written`, 'ms', perNode),
        );
        totals.push({ n, series: config.label, seconds: summarize(secs).median / 1000 });
        const split = runs.flatMap((r) => r.nodes.map(phasesOf).filter((p) => p !== undefined));
        for (const [order, phase] of PHASES.entries())
          phases.push({
            n,
            series: ci === 0 ? '' : 'raised',
            phase,
            order,
            seconds: summarize(split.map((p) => p[phase] ?? 0)).median,
          });
      }
      totals.push({ n: 1, series: config.label, seconds: summarize(single).median });
    } finally {
      await c.cp.stop();
      rmSync(c.work, { recursive: true, force: true });
    }
  }
  const dir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const png = join(dir, 'scale.png');
  await writeScalingChart(
    png,
    `node-attestor: N node identities at once against one API server (${new Date().toISOString().slice(0, 10)})`,
    totals,
    phases,
  );
  process.stderr.write(`bench: scaling chart in ${png}\n`);
  return rows;
}

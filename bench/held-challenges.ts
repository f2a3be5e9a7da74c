/**
 * The held-challenge attack against the server plugin: an honest agent's attestation latency
 * while N Attest streams hold unanswered challenges (a copy of a node's certificate, no key:
 * payload sent, challenge taken, never answered), N = 0, 100, 1000, over one connection as
 * spire-server has. N = 0 is the baseline, measured in the same run and interleaved with the
 * others. The plugin is the single executable (its heap flags built in), as spire-server starts it, and
 * with challenge_timeout = "60s" so the deadline frees nothing while a round is measured: what
 * keeps the honest agent fast is the bound on pending challenges alone.
 */
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerChallenge, encodePayload } from '../src/attestation/agent.js';
import { holdChallenges } from '../test/support/challenge-holders.js';
import { FakeSpireHost } from '../test/support/fake-spire-host.js';
import { createCa, createNodeClientCert } from '../test/support/pki.js';
import { distFile } from './lib/node-binaries.js';
import {
  dropFromPageCache,
  PAGE_CACHE_STATES,
  preparePageCache,
  type PageCacheState,
} from './lib/page-cache.js';
import { rssMb, rssSplitMb } from './lib/proc.js';
import { row, type Row } from './lib/report.js';
import { summarize } from './lib/stats.js';
import { MEMORY_GOAL_MB } from './server-attest.js';

const BENCH = 'server plugin, held challenges';

/**
 * The held-challenge rounds with the executable's pages faulted in by the plugin; then the same
 * with the executable read whole first, as spire-server's plugin_checksum reads it on a cold page
 * cache (memory rows only: the latency is the same code). The page cache is left dropped after,
 * so later benchmarks start from the first state.
 */
export async function heldChallenges(
  sizes: readonly number[],
  rounds: number,
  honestPerRound: number,
): Promise<Row[]> {
  const plugin = process.env.BENCH_SERVER_PLUGIN ?? distFile('k8s-csr-server-plugin');
  const file = realpathSync(plugin);
  try {
    preparePageCache(file, 'faulted');
    const rows = await heldRounds(plugin, 'faulted', sizes, rounds, honestPerRound);
    preparePageCache(file, 'hashed');
    const hashed = await heldRounds(plugin, 'hashed', sizes, rounds, honestPerRound);
    return [...rows, ...hashed.filter((r) => r.unit === 'MB')];
  } finally {
    dropFromPageCache(file);
  }
}

async function heldRounds(
  plugin: string,
  state: PageCacheState,
  sizes: readonly number[],
  rounds: number,
  honestPerRound: number,
): Promise<Row[]> {
  const work = mkdtempSync(join(tmpdir(), 'na-bench-held-'));
  const host = await FakeSpireHost.launch({ command: plugin, args: [] });
  try {
    const ca = await createCa('CN=bench-ca');
    writeFileSync(join(work, 'ca.crt'), ca.pem);
    const honest = await createNodeClientCert(ca, 'honest');
    const honestPayload = encodePayload({ certificates: [honest.der], cluster: 'bench' });
    const stolen = encodePayload({
      certificates: [(await createNodeClientCert(ca, 'victim')).der],
      cluster: 'bench',
    });
    await host.load({
      trustDomain: 'example.org',
      hcl: `challenge_timeout = "60s"\nclusters = { "bench" = { ca_bundle_path = "${join(work, 'ca.crt')}" } }`,
    });
    const pid = host.pid;
    if (pid === undefined) throw new Error('no plugin pid');
    const attestHonest = async (): Promise<number> => {
      const t = performance.now();
      const out = await host.attest(honestPayload, (c) => answerChallenge(c, honest.key.privateKey));
      if (!out.attributes.spiffeId.endsWith('/bench/honest'))
        throw new Error(`wrong agent ID ${out.attributes.spiffeId}`);
      return performance.now() - t;
    };
    for (let i = 0; i < 20; i++) await attestHonest(); // warm-up

    const latency = new Map<number, number[]>(sizes.map((n) => [n, []]));
    const memory = new Map<number, number[]>(sizes.map((n) => [n, []]));
    // The goal is on the whole resident size; its anonymous (heap, malloc) and file-backed (the
    // executable's code pages, shared and reclaimable) parts are reported beside it.
    const anon = new Map<number, number[]>(sizes.map((n) => [n, []]));
    const file = new Map<number, number[]>(sizes.map((n) => [n, []]));
    const held = new Map<number, number[]>(sizes.map((n) => [n, []]));
    for (let round = 0; round < rounds; round++) {
      for (const n of sizes) {
        const holders = await holdChallenges(host, stolen, n);
        try {
          for (let i = 0; i < honestPerRound; i++) latency.get(n)?.push(await attestHonest());
          held.get(n)?.push(holders.holding().length);
          memory.get(n)?.push(rssMb(pid));
          const split = rssSplitMb(pid);
          anon.get(n)?.push(split.anon);
          file.get(n)?.push(split.file);
        } finally {
          await holders.release();
        }
      }
    }
    const base = latency.get(0) ?? [];
    const baseMemory = memory.get(0) ?? [];
    const memoryGoal = ({ median }: { median: number }): { text: string; met: boolean } => ({
      text: `< ${String(MEMORY_GOAL_MB)} MB`,
      met: median < MEMORY_GOAL_MB,
    });
    const splitNote = (n: number): string =>
      `median ${summarize(anon.get(n) ?? []).median.toFixed(1)} MB anonymous (heap, malloc), ${summarize(file.get(n) ?? []).median.toFixed(1)} MB file-backed (the executable's code pages); ${PAGE_CACHE_STATES[state]}`;
    // The second state's rows say so in their name.
    const memoryFigure = (what: string): string =>
      state === 'faulted'
        ? `resident memory, ${what}`
        : `resident memory, ${what}, executable read whole first`;
    return sizes.flatMap((n) => {
      const holding = held.get(n) ?? [];
      const note =
        n === 0
          ? undefined
          : `${String(n)} streams opened, ${String(Math.min(...holding))}–${String(Math.max(...holding))} still holding a challenge while measured (max_pending_challenges 64); the others were ended with RESOURCE_EXHAUSTED`;
      if (n === 0)
        return [
          row(BENCH, 'honest attestation latency, no streams held', 'ms', base),
          row(BENCH, memoryFigure('no streams held'), 'MB', baseMemory, {
            goal: memoryGoal,
            note: splitNote(0),
          }),
        ];
      return [
        row(BENCH, `honest attestation latency, ${String(n)} streams held`, 'ms', latency.get(n) ?? [], {
          baseline: { name: 'no streams held', samples: base },
          goal: ({ ratio }) => ({ text: '≤ 2× no streams held', met: (ratio ?? Infinity) <= 2 }),
          ...(note !== undefined ? { note } : {}),
        }),
        row(BENCH, memoryFigure(`${String(n)} streams held`), 'MB', memory.get(n) ?? [], {
          baseline: { name: 'no streams held', samples: baseMemory },
          goal: memoryGoal,
          note: splitNote(n),
        }),
      ];
    });
  } finally {
    await host.unload().catch(() => undefined);
    await host.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

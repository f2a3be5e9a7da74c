/**
 * The server plugin under load: many concurrent attestations (valid ECDSA P-256 chains, full
 * challenge round) driven over gRPC the way spire-server drives it, against the raw node:crypto
 * cost of the same verifications in one process (the limit). Also the plugin's resident memory,
 * idle and under load.
 */
import { X509Certificate, randomBytes, sign, verify } from 'node:crypto';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerChallenge, encodePayload } from '../src/attestation/agent.js';
import { REPO_ROOT } from '../test/harness/bins.js';
import { FakeSpireHost } from '../test/support/fake-spire-host.js';
import { createCa, createNodeClientCert, type TestCert } from '../test/support/pki.js';
import { row, type Row } from './lib/report.js';

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
  return m === null ? Number.NaN : Number(m[1]) / 1024;
}

/** The limit: the chain signature and the challenge signature verified in a tight loop. */
function rawVerifyOpsPerSecond(ca: TestCert, leaves: readonly TestCert[], n: number): number {
  const signed = leaves.map((l) => {
    const data = randomBytes(64);
    return {
      der: l.der,
      data,
      sig: sign('sha256', data, { key: l.key.privateKey, dsaEncoding: 'ieee-p1363' }),
    };
  });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = signed[i % signed.length]!;
    const leaf = new X509Certificate(s.der);
    if (!leaf.verify(ca.cert.publicKey)) throw new Error('chain');
    if (!verify('sha256', s.data, { key: leaf.publicKey, dsaEncoding: 'ieee-p1363' }, s.sig))
      throw new Error('pop');
  }
  return n / ((performance.now() - t0) / 1000);
}

export async function serverAttest(total: number, concurrency: number, rounds: number): Promise<Row[]> {
  const work = mkdtempSync(join(tmpdir(), 'na-bench-srv-'));
  const ca = await createCa('CN=bench-ca');
  writeFileSync(join(work, 'ca.crt'), ca.pem);
  const leaves = await Promise.all(
    Array.from({ length: 32 }, (_, i) => createNodeClientCert(ca, `bench-${String(i)}`)),
  );
  const payloads = leaves.map((l) => encodePayload({ certificates: [l.der], cluster: 'bench' }));
  const host = await FakeSpireHost.launch({
    command: process.execPath,
    args: [join(REPO_ROOT, 'dist', 'k8s-csr-server-plugin.mjs')],
  });
  try {
    await host.load({
      trustDomain: 'example.org',
      hcl: `clusters = { "bench" = { ca_bundle_path = "${join(work, 'ca.crt')}" } }`,
    });
    const pid = host.pid;
    if (pid === undefined) throw new Error('no plugin pid');
    await new Promise((r) => setTimeout(r, 1000));
    const idle = [rssMb(pid)];
    const throughput: number[] = [];
    const limit: number[] = [];
    const latencies: number[] = [];
    const loaded: number[] = [];
    let failures = 0;
    let firstFailure = '';
    for (let round = 0; round < rounds; round++) {
      let next = 0;
      let peak = 0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssMb(pid));
      }, 50);
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < total) {
            const i = next++;
            const started = performance.now();
            try {
              const out = await host.attest(payloads[i % payloads.length]!, (c) =>
                answerChallenge(c, leaves[i % leaves.length]!.key.privateKey),
              );
              if (!out.attributes.spiffeId.endsWith(`/bench-${String(i % leaves.length)}`))
                throw new Error('wrong id');
              latencies.push(performance.now() - started);
            } catch (err) {
              // Counted, not fatal: under Node 20 the HTTP/2 reset limit fails a batch (documented).
              failures += 1;
              firstFailure ||= err instanceof Error ? err.message : String(err);
            }
          }
        }),
      );
      throughput.push(total / ((performance.now() - t0) / 1000));
      clearInterval(sampler);
      loaded.push(Math.max(peak, rssMb(pid)));
      limit.push(rawVerifyOpsPerSecond(ca, leaves, total));
    }
    idle.push(rssMb(pid));
    return [
      row('server plugin', `attestations/s (${String(concurrency)} concurrent)`, 'ops/s', throughput, {
        baseline: { name: 'raw node:crypto verify, 1 process', samples: limit },
        goal: ({ ratio }) => ({ text: '≥ 0.5× the limit', met: (ratio ?? 0) >= 0.5 }),
        note: `${String(failures)} of ${String(total * rounds)} attestations failed on Node ${process.version}${failures > 0 ? ` (first: ${firstFailure})` : ''}`,
      }),
      row('server plugin', 'attestation latency (host view)', 'ms', latencies),
      row('server plugin', 'resident memory, idle', 'MB', idle, {
        goal: ({ median }) => ({ text: '< 80 MB', met: median < 80 }),
      }),
      row('server plugin', `resident memory, peak under load`, 'MB', loaded, {
        goal: ({ median }) => ({ text: '< 80 MB', met: median < 80 }),
      }),
    ];
  } finally {
    await host.unload().catch(() => undefined);
    await host.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

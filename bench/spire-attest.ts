/**
 * Through real SPIRE: spire-agent process start → "Node attestation was successful" (the agent
 * has its SVID) with our k8s_csr plugins, against SPIRE's built-in join_token attestor on the
 * same spire-server as the baseline. k8s_csr runs twice: with a new identity (key, CSR through
 * the real control plane, approval, signing) and with the identity document already on disk
 * (what an agent restart or re-attestation does). Runs alternate between the two attestors.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/harness/bins.js';
import { startControlPlane } from '../test/harness/control-plane.js';
import {
  ourPlugin,
  spireCli,
  startSpireAgent,
  startSpireServer,
  type SpireServer,
} from '../test/harness/spire.js';
import { row, type Row } from './lib/report.js';

const DIST = join(REPO_ROOT, 'dist');
const ATTESTED = 'msg="Node attestation was successful"';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Milliseconds from spire-agent's start to its attestation, then stops it. */
async function timeAgent(
  server: SpireServer,
  dir: string,
  nodeAttestor: string,
  agentSettings?: string,
): Promise<number> {
  mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  const agent = startSpireAgent(dir, server, {
    nodeAttestor,
    ...(agentSettings === undefined ? {} : { agentSettings }),
  });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      let log = '';
      try {
        log = readFileSync(agent.process.logFile, 'utf8');
      } catch {
        // not created yet
      }
      if (log.includes(ATTESTED)) return performance.now() - t0;
      if (agent.process.hasExited || Date.now() > deadline)
        throw new Error(`spire-agent did not attest:\n${agent.process.tail(15)}`);
      await sleep(5);
    }
  } finally {
    await agent.stop();
  }
}

/**
 * The same NodeAttestor block without plugin_checksum: what SPIRE's hash of the executable
 * costs, measured in every run rather than by a one-off harness change.
 */
function withoutChecksum(block: string): string {
  const out = block.replace(/^\s*plugin_checksum = .*\n/m, '');
  if (out === block) throw new Error('spire bench: no plugin_checksum line in the plugin block');
  return out;
}

/**
 * Runs k8s_csr `runs` times each way, interleaved with join_token. BENCH_SPIRE_DIST_BEFORE=<dir>
 * (another build's dist/) adds the stored-identity flow with that build's agent plugin, in the
 * same rotation: a before/after of the executable from one run.
 */
export async function spireAttest(runs: number): Promise<Row[]> {
  const before = process.env.BENCH_SPIRE_DIST_BEFORE;
  const cp = await startControlPlane();
  const work = mkdtempSync(join(tmpdir(), 'na-bench-spire-'));
  try {
    const cred = await cp.setUpSpireAgent();
    const server = await startSpireServer(join(work, 'server'), {
      nodeAttestors: [
        ourPlugin(
          'server',
          'k8s_csr',
          `clusters = { "bench" = { ca_bundle_path = "${cp.pki.caCertPath}" } }`,
          DIST,
        ),
        '  NodeAttestor "join_token" { plugin_data {} }',
      ].join('\n'),
    });
    try {
      const agentData = (node: string, idDir: string): string =>
        [
          'cluster = "bench"',
          `ca_cert_path = "${cp.pki.caCertPath}"`,
          `kubeconfig_path = "${cp.adminKubeconfig}"`,
          `client_cert_path = "${cred.certPath}"`,
          `client_key_path = "${cred.keyPath}"`,
          `agent_name = "${node}"`,
          `identity_dir = "${idDir}"`,
        ].join('\n');
      const k8sNew: number[] = [];
      const k8sReuse: number[] = [];
      const join_: number[] = [];
      const k8sReuseNoSum: number[] = [];
      const k8sReuseBefore: number[] = [];
      for (let i = 0; i < runs; i++) {
        const node = `bench-spire-${String(i)}`;
        const idDir = join(work, `id-${String(i)}`);
        const plugin = ourPlugin('agent', 'k8s_csr', agentData(node, idDir), DIST);
        const token = async (): Promise<number> => {
          const t = await spireCli('spire-server', [
            'token',
            'generate',
            '-socketPath',
            server.socketPath,
            '-ttl',
            '600',
          ]);
          const m = /Token: (\S+)/.exec(t.stdout);
          if (t.code !== 0 || m?.[1] === undefined) throw new Error(`token generate: ${t.stderr}`);
          return timeAgent(
            server,
            join(work, `join-${String(i)}`),
            '  NodeAttestor "join_token" { plugin_data {} }',
            `  join_token = "${m[1]}"`,
          );
        };
        // Alternate the order so that load spikes hit both alike.
        if (i % 2 === 0) {
          k8sNew.push(await timeAgent(server, join(work, `new-${String(i)}`), plugin));
          join_.push(await token());
        } else {
          join_.push(await token());
          k8sNew.push(await timeAgent(server, join(work, `new-${String(i)}`), plugin));
        }
        // Same node, same identity directory, fresh agent data_dir: the document is reused. The
        // variants run in a rotating order so that load spikes hit them alike.
        const reused: (() => Promise<void>)[] = [
          async () => {
            k8sReuse.push(await timeAgent(server, join(work, `reuse-${String(i)}`), plugin));
          },
          async () => {
            const p = withoutChecksum(plugin);
            k8sReuseNoSum.push(await timeAgent(server, join(work, `reuse-nosum-${String(i)}`), p));
          },
        ];
        if (before !== undefined) {
          const p = ourPlugin('agent', 'k8s_csr', agentData(node, idDir), before);
          reused.push(async () => {
            k8sReuseBefore.push(await timeAgent(server, join(work, `reuse-before-${String(i)}`), p));
          });
        }
        for (let k = 0; k < reused.length; k++) await reused[(i + k) % reused.length]?.();
      }
      return [
        row('through SPIRE 1.13.3', 'spire-agent start → SVID, k8s_csr, new identity (CSR)', 'ms', k8sNew, {
          baseline: { name: 'join_token', samples: join_ },
        }),
        row('through SPIRE 1.13.3', 'spire-agent start → SVID, k8s_csr, stored identity', 'ms', k8sReuse, {
          baseline: { name: 'join_token', samples: join_ },
        }),
        row(
          'through SPIRE 1.13.3',
          'spire-agent start → SVID, k8s_csr, stored identity, without plugin_checksum',
          'ms',
          k8sReuseNoSum,
          { baseline: { name: 'join_token', samples: join_ } },
        ),
        ...(before === undefined
          ? []
          : [
              row(
                'through SPIRE 1.13.3',
                `spire-agent start → SVID, k8s_csr, stored identity, agent plugin from ${before}`,
                'ms',
                k8sReuseBefore,
                { baseline: { name: 'join_token', samples: join_ } },
              ),
            ]),
      ];
    } finally {
      await server.stop();
    }
  } finally {
    await cp.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

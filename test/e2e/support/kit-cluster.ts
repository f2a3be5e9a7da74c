/**
 * A harness cluster with two real nodes (test/harness/node.ts), the kit's images imported into
 * each, and the kit's local overlay written (test/harness/deploy-kit.ts), plus what the kit's
 * end-to-end tests ask of it: kubectl, pods, spire-server's agent list through `kubectl exec`, a
 * workload pod fetching its SVID, bounded waits that print the cluster's state on timeout.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, binPath } from '../../harness/bins.js';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.js';
import {
  KIT_NAMESPACE as NS,
  KIT_SOCKET,
  agentDaemonSetName,
  serverCliArgs,
  workloadFetchArgs,
  workloadPod,
  writeLocalOverlay,
  type LocalKitOptions,
} from '../../harness/deploy-kit.js';
import { startNode, type Node } from '../../harness/node.js';
import { builtImageArchive } from '../../harness/node-images.js';
import { freePort } from '../../harness/ports.js';
import type { AttestedAgent } from '../../harness/spire.js';

export { KIT_SOCKET };

export interface Exec {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface PodJson {
  metadata: { name: string; uid: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      name: string;
      ready: boolean;
      restartCount: number;
      containerID?: string;
    }[];
  };
}

export interface KitClusterOptions {
  readonly clusterName: string;
  readonly trustDomain: string;
  readonly nodeAttestor?: LocalKitOptions['nodeAttestor'];
}

export interface KitCluster {
  readonly cp: ControlPlane;
  readonly nodes: readonly Node[];
  /** The overlay directory to `kubectl apply -k`. */
  readonly overlay: string;
  kubectlRaw(args: readonly string[], timeoutMs?: number): Promise<Exec>;
  /** kubectl as the admin; rejects on a non-zero exit. */
  kubectl(args: readonly string[]): Promise<string>;
  pods(ns?: string): Promise<PodJson[]>;
  /** The agent pod on `node` (the overlay's per-node DaemonSets label their pods with it). */
  agentPod(node: string): Promise<PodJson | undefined>;
  /** Polls `check` until it returns a value; on timeout fails with the pods, events and logs. */
  until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T>;
  /** spire-server's CLI in its pod. */
  serverExec(args: readonly string[]): Promise<Exec>;
  /** `spire-server agent list` ([] while the server does not answer). */
  agents(): Promise<AttestedAgent[]>;
  /**
   * The operator's join_token steps once the kit is applied with `nodeAttestor: 'join_token'`:
   * waits (up to `timeoutMs`) for spire-server to be healthy, then generates a token per node,
   * whose extra SPIFFE ID names the node, and sets it into that node's agent DaemonSet.
   */
  giveJoinTokens(timeoutMs: number): Promise<void>;
  /** A pod `workload` in `default` on `node`, service account `workload`, with the socket mounted. */
  createWorkload(node: string): Promise<void>;
  /** `spire-agent api fetch x509` in the workload pod. */
  fetchSvid(): Promise<Exec>;
  /** The logs of a pod's current and previous container. */
  podLogs(pod: string, ns?: string): Promise<string>;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const isReady = (p: PodJson): boolean =>
  p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

export async function startKitCluster(o: KitClusterOptions): Promise<KitCluster> {
  const work = mkdtempSync(join(tmpdir(), 'na-deploy-'));
  const stops: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s();
    rmSync(work, { recursive: true, force: true });
  };
  try {
    const cp = await startControlPlane({ workloads: true });
    stops.push(() => cp.stop());
    const nodes: Node[] = [];
    for (const name of ['node-a', 'node-b']) {
      const n = await startNode(cp, { name });
      nodes.push(n);
      stops.push(() => n.stop());
    }
    const archives: string[] = [];
    for (const image of ['node-attestor', 'spire-server', 'spire-agent'] as const)
      archives.push(await builtImageArchive(image));
    for (const n of nodes) await n.importImages(archives);
    // The digest the build wrote next to the executable the images carry (docs/images.md).
    const pluginChecksum =
      readFileSync(join(REPO_ROOT, 'dist', 'node-attestor.sha256'), 'utf8').split(/\s/)[0] ?? '';
    assert.match(pluginChecksum, /^[0-9a-f]{64}$/);
    const overlay = writeLocalOverlay({
      dir: join(work, 'overlay'),
      clusterName: o.clusterName,
      trustDomain: o.trustDomain,
      serverPort: await freePort(),
      pluginChecksum,
      nodes: nodes.map((n) => ({ name: n.name, kubeletPort: n.kubeletPort })),
      nodeAttestor: o.nodeAttestor ?? 'k8s_csr',
    });

    const kubectlRaw = (args: readonly string[], timeoutMs = 60_000): Promise<Exec> =>
      new Promise((resolve) => {
        execFile(
          binPath('kubectl'),
          [`--kubeconfig=${cp.adminKubeconfig}`, ...args],
          { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 },
          (err, stdout, stderr) => {
            const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
            resolve({ code, stdout, stderr });
          },
        );
      });
    const kubectl = async (args: readonly string[]): Promise<string> => {
      const r = await kubectlRaw(args);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
      return r.stdout;
    };
    const pods = async (ns = NS): Promise<PodJson[]> =>
      (JSON.parse(await kubectl(['get', 'pods', '-n', ns, '-o', 'json'])) as { items: PodJson[] }).items;

    const scene = async (): Promise<string> => {
      const parts = [
        (await kubectlRaw(['get', 'pods', '-A', '-o', 'wide'])).stdout,
        (await kubectlRaw(['get', 'events', '-n', NS, '--sort-by=.lastTimestamp'])).stdout
          .split('\n')
          .slice(-25)
          .join('\n'),
      ];
      for (const p of await pods().catch(() => [])) {
        const logs = await kubectlRaw(['logs', '-n', NS, p.metadata.name, '--tail=15']);
        parts.push(`--- ${p.metadata.name} (${p.spec.nodeName ?? '?'}):\n${logs.stdout}${logs.stderr}`);
      }
      return parts.join('\n');
    };

    const serverExec = (args: readonly string[]): Promise<Exec> => kubectlRaw(serverCliArgs(args));
    const until = async <T>(
      what: string,
      timeoutMs: number,
      check: () => Promise<T | undefined>,
    ): Promise<T> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = await check();
        if (v !== undefined) return v;
        if (Date.now() > deadline)
          assert.fail(`timed out after ${String(timeoutMs / 1000)} s waiting for ${what}\n${await scene()}`);
        await sleep(500);
      }
    };
    const giveJoinTokens = async (timeoutMs: number): Promise<void> => {
      await until('spire-server healthy', timeoutMs, async () =>
        (await serverExec(['healthcheck'])).code === 0 ? true : undefined,
      );
      for (const n of nodes) {
        const r = await serverExec([
          'token',
          'generate',
          '-spiffeID',
          `spiffe://${o.trustDomain}/node/${n.name}`,
        ]);
        const token = /Token: (\S+)/.exec(r.stdout)?.[1];
        assert.ok(token !== undefined, `token generate: ${r.stdout}${r.stderr}`);
        await kubectl([
          'set',
          'env',
          '-n',
          NS,
          `daemonset/${agentDaemonSetName(n.name)}`,
          `JOIN_TOKEN=${token}`,
        ]);
      }
    };

    return {
      cp,
      nodes,
      overlay,
      kubectlRaw,
      kubectl,
      pods,
      agentPod: async (node) =>
        (await pods()).find((p) => p.metadata.labels?.['node-attestor.test/node'] === node),
      until,
      serverExec,
      agents: async () => {
        // A kubectl exec can fail for a moment (the kubelet's stream, a restarting server pod):
        // a few tries, so that one blip is not read as "no agent" by a caller that asks once.
        for (let attempt = 1; ; attempt++) {
          const r = await serverExec(['agent', 'list', '-output', 'json']);
          if (r.code === 0) return (JSON.parse(r.stdout) as { agents?: AttestedAgent[] }).agents ?? [];
          if (attempt === 3) return [];
          await sleep(1000);
        }
      },
      createWorkload: async (node) => {
        await kubectl(['create', 'serviceaccount', '-n', 'default', 'workload']);
        const pod = workloadPod('workload', node);
        await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod) });
      },
      giveJoinTokens,
      fetchSvid: () => kubectlRaw(workloadFetchArgs('workload')),
      podLogs: async (pod, ns = NS) =>
        (await kubectlRaw(['logs', '-n', ns, pod])).stdout +
        (await kubectlRaw(['logs', '-n', ns, pod, '--previous'])).stdout,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

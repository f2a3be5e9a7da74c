/**
 * A control plane that runs workloads plus N real nodes (node-a, node-b, …): what a test of the
 * deployment kit, or `npm run cluster -- --nodes N`, starts. Nodes join one after another (each
 * waits for Ready), so a failure names the node; stop() stops nodes first, then the control plane.
 */
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from './control-plane.js';
import { startNode, type Node } from './node.js';

export interface ClusterOptions extends Omit<ControlPlaneOptions, 'workloads'> {
  /** How many nodes to start; 0 gives a workloads control plane with no node yet. */
  readonly nodes: number;
  /** OCI archives every node imports before its kubelet starts (node-images.ts builtImageArchive). */
  readonly images?: readonly string[];
}

export interface Cluster {
  readonly cp: ControlPlane;
  readonly nodes: readonly Node[];
  stop(): Promise<void>;
}

/** Node names in start order: node-a, node-b, … node-z. */
export function nodeName(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= 26) throw new Error(`node index ${String(i)} is not in 0..25`);
  return `node-${String.fromCharCode(97 + i)}`;
}

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  if (!Number.isInteger(o.nodes) || o.nodes < 0 || o.nodes > 26)
    throw new Error(`nodes must be a whole number from 0 to 26 (got ${String(o.nodes)})`);
  const { nodes: count, images, ...cpOptions } = o;
  const cp = await startControlPlane({ ...cpOptions, workloads: true });
  const nodes: Node[] = [];
  const stop = async (): Promise<void> => {
    for (const n of [...nodes].reverse()) await n.stop();
    await cp.stop();
  };
  try {
    for (let i = 0; i < count; i++)
      nodes.push(
        await startNode(cp, {
          name: nodeName(i),
          ...(images !== undefined ? { images } : {}),
          ...(o.keepDir !== undefined ? { keepDir: o.keepDir } : {}),
          ...(o.log !== undefined ? { log: o.log } : {}),
        }),
      );
  } catch (err) {
    await stop();
    throw err;
  }
  return { cp, nodes, stop };
}

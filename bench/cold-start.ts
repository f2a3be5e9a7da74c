/**
 * Cold start of what users run, on the shipped Node line: the single executable (dist/node-attestor
 * and its plugin links, exec'd as SPIRE execs plugin_cmd) and, for hosts with Node, the .mjs
 * bundles under the same pinned Node; `--help` to exit and each plugin to its go-plugin handshake
 * line. Each pair is interleaved with its floor, the same Node doing nothing, in the environment
 * bench/lib/env.ts controls.
 */
import { launcherFlags } from './lib/launcher.js';
import { distFile, pinnedNode } from './lib/node-binaries.js';
import { row, type Row } from './lib/report.js';
import { interleave, timeProcess, timeToFirstLine } from './lib/timing.js';

const twiceTheFloor = ({ ratio }: { ratio?: number }): { text: string; met: boolean } => ({
  text: '≤ 2× floor',
  met: (ratio ?? Infinity) <= 2,
});

export async function coldStart(runs: number): Promise<Row[]> {
  const node = pinnedNode('shipped');
  const rows: Row[] = [];
  const helpFloor = { name: `${node.label} -e 0`, run: () => timeProcess(node.path, ['-e', '0']) };
  for (const [what, cmd, args, goal] of [
    ['node-attestor --help (single executable)', distFile('node-attestor'), ['--help'], true],
    [`node-attestor.mjs --help (${node.label})`, node.path, [distFile('node-attestor.mjs'), '--help'], false],
  ] as const) {
    const [help, floor] = await interleave(runs, () => timeProcess(cmd, args), helpFloor.run);
    rows.push(
      row('cold start', what, 'ms', help, {
        baseline: { name: helpFloor.name, samples: floor },
        ...(goal ? { goal: twiceTheFloor } : {}),
      }),
    );
  }

  const env = { ...process.env, NodeAttestor: 'NodeAttestor', PLUGIN_PROTOCOL_VERSIONS: '1' };
  const firstLine = async (cmd: string, args: readonly string[]): Promise<number> => {
    const r = await timeToFirstLine(cmd, args, env);
    if (!/^1\|1\|unix\|\S+\|grpc/.test(r.line)) throw new Error(`unexpected handshake: ${r.line}`);
    return r.ms;
  };
  for (const side of ['agent', 'server'] as const) {
    const link = distFile(`k8s-csr-${side}-plugin`);
    const bundle = distFile(`k8s-csr-${side}-plugin.mjs`);
    for (const [what, cmd, args, goal] of [
      // Exec'd as plugin_cmd: the executable's own execArgv (the server's heap flags) included.
      [`${side} plugin → handshake (single executable)`, link, [], true],
      // The bundle with the flags its launcher line gives node, on the same Node.
      [
        `${side} plugin → handshake (.mjs, ${node.label})`,
        node.path,
        [...launcherFlags(bundle), bundle],
        false,
      ],
    ] as const) {
      const [plugin, floorLine] = await interleave(
        runs,
        () => firstLine(cmd, args),
        async () => (await timeToFirstLine(node.path, ['-e', 'console.log(1)'], env)).ms,
      );
      rows.push(
        row('cold start', what, 'ms', plugin, {
          baseline: { name: `${node.label} -e console.log(1)`, samples: floorLine },
          ...(goal ? { goal: twiceTheFloor } : {}),
        }),
      );
    }
  }
  return rows;
}

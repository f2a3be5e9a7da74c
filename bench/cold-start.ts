/** Cold start of the executables: CLI --help and each plugin until its go-plugin handshake line. */
import { join } from 'node:path';
import { REPO_ROOT } from '../test/harness/bins.js';
import { row, type Row } from './lib/report.js';
import { interleave, timeProcess, timeToFirstLine } from './lib/timing.js';

const node = process.execPath;
const dist = (f: string): string => join(REPO_ROOT, 'dist', f);

export async function coldStart(runs: number): Promise<Row[]> {
  const [help, floor] = await interleave(
    runs,
    () => timeProcess(node, [dist('node-attestor.mjs'), '--help']),
    () => timeProcess(node, ['-e', '0']),
  );
  const rows: Row[] = [
    row('cold start', 'node-attestor --help', 'ms', help, {
      baseline: { name: 'node -e 0', samples: floor },
      goal: ({ median, baselineMedian }) => ({
        text: '≤ floor + 100 ms',
        met: median <= (baselineMedian ?? 0) + 100,
      }),
    }),
  ];
  const env = { ...process.env, NodeAttestor: 'NodeAttestor', PLUGIN_PROTOCOL_VERSIONS: '1' };
  for (const [name, file] of [
    ['agent plugin → handshake', 'k8s-csr-agent-plugin.mjs'],
    ['server plugin → handshake', 'k8s-csr-server-plugin.mjs'],
  ] as const) {
    const [plugin, floorLine] = await interleave(
      runs,
      async () => {
        // Exec'd as spire-server's plugin_cmd does, so the server plugin's launcher line (and the
        // cost of its V8 flags) is part of the figure; `node` on PATH is what that line runs.
        const r = await timeToFirstLine(dist(file), [], env);
        if (!/^1\|1\|unix\|\S+\|grpc/.test(r.line)) throw new Error(`unexpected handshake: ${r.line}`);
        return r.ms;
      },
      async () => (await timeToFirstLine(node, ['-e', 'console.log(1)'], env)).ms,
    );
    rows.push(
      row('cold start', name, 'ms', plugin, {
        baseline: { name: 'node -e console.log(1)', samples: floorLine },
        goal: ({ median }) => ({ text: '< 300 ms', met: median < 300 }),
      }),
    );
  }
  return rows;
}

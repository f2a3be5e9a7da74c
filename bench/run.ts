/**
 * npm run bench [-- <name> ...]: runs the benchmarks (all by default), prints one table with each
 * figure beside its baseline from the same run, and writes JSON + Markdown to bench/results/.
 * Names: control-plane, cold-start, identity, server (server-held: its held-challenge part alone),
 * scale, spire, approver, signer, pem.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/harness/bins.js';
import { approverLatency } from './approver.js';
import { coldStart } from './cold-start.js';
import { controlEnvironment } from './lib/env.js';
import { controlPlane } from './control-plane.js';
import { heldChallenges } from './held-challenges.js';
import { identityRoundTrip } from './identity-roundtrip.js';
import { markdown, writeResults, type Row } from './lib/report.js';
import { hostilePem } from './pem.js';
import { scale } from './scale.js';
import { serverAttest } from './server-attest.js';
import { signerLatency } from './signer.js';
import { spireAttest } from './spire-attest.js';

/** An honest agent's latency while 0, 100, 1000 streams hold challenges: 3 rounds of 30. */
const held = (): Promise<Row[]> => heldChallenges([0, 100, 1000], 3, 30);

const all: Record<string, () => Promise<Row[]>> = {
  'control-plane': () => controlPlane(5, 20),
  'cold-start': () => coldStart(20),
  identity: () => identityRoundTrip(10),
  server: async () => [...(await serverAttest(2000, 16, 3)), ...(await held())],
  'server-held': () => held(),
  scale: () => scale(),
  spire: () => spireAttest(5),
  approver: () => approverLatency(200),
  signer: () => signerLatency(200, 200),
  pem: () => hostilePem(15),
};

const wanted = process.argv.slice(2);
for (const w of wanted)
  if (!(w in all)) throw new Error(`unknown benchmark ${w}; known: ${Object.keys(all).join(', ')}`);
const controlled = controlEnvironment();
const header = `node-attestor benchmarks, ${new Date().toISOString()}: ${String(cpus().length)} CPUs, runner Node ${process.version}, load average at start ${loadavg()
  .map((l) => l.toFixed(2))
  .join(' ')}; ${controlled}`;
const rows: Row[] = [];
for (const [name, run] of Object.entries(all)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  process.stderr.write(`bench: ${name}…\n`);
  rows.push(...(await run()));
}
process.stdout.write(markdown(rows, header));
const file = writeResults(join(REPO_ROOT, 'bench', 'results'), rows, header);
process.stderr.write(`bench: results in ${file}\n`);

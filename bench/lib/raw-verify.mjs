// The server benchmark's limit: what node:crypto alone needs for one attestation's checks (parse
// the leaf, verify its signature with the CA key, verify the challenge signature with the leaf's
// key), in a tight loop in one process. Plain JavaScript so that it runs under whichever Node
// binary runs the plugin. Usage: node raw-verify.mjs <input.json> <count>; prints JSON.
import { X509Certificate, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const n = Number(process.argv[3]);
const caKey = createPublicKey({ key: Buffer.from(input.caSpki, 'base64'), format: 'der', type: 'spki' });
const items = input.leaves.map((l) => ({
  der: Buffer.from(l.der, 'base64'),
  data: Buffer.from(l.data, 'base64'),
  sig: Buffer.from(l.sig, 'base64'),
}));

function run(count) {
  for (let i = 0; i < count; i++) {
    const s = items[i % items.length];
    const leaf = new X509Certificate(s.der);
    if (!leaf.verify(caKey)) throw new Error('chain signature');
    if (!verify('sha256', s.data, { key: leaf.publicKey, dsaEncoding: 'ieee-p1363' }, s.sig))
      throw new Error('challenge signature');
  }
}

run(Math.min(200, n)); // warm-up
const cpu0 = process.cpuUsage();
const t0 = performance.now();
run(n);
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(`${JSON.stringify({ ops: n, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);

/**
 * Hostile PEM, in process: how long deciding 1 MiB of unterminated BEGIN lines after a valid block
 * takes, (1) for the approver (a CSR whose spec.request carries it: refused by the size limit) and
 * (2) for the PEM scanner itself (a CA bundle file of that shape, under the 4 MiB PEM limit, so
 * the whole 1 MiB is scanned). Baselines from the same run: the approver deciding an honest CSR,
 * and the block regular expression the scanner replaced on 100 KiB of the same junk (1 MiB of it
 * would take it tens of seconds).
 */
import { decide, type DecideOptions } from '../src/approver/decide.js';
import { APPROVER_DEFAULTS as DEFAULTS } from '../src/approver/settings.js';
import { generateKey } from '../src/csr/keys.js';
import { NODE_CLIENT_SIGNER, nodeClientUsages } from '../src/csr/profile.js';
import { buildNodeCsr } from '../src/csr/request.js';
import type { CsrObject } from '../src/kube/csr-api.js';
import { decodeStrictPemCertificates, readPemBlocks } from '../src/x509/pem.js';
import { row, type Row } from './lib/report.js';

const MIB = 1024 * 1024;
const JUNK_LINE = '-----BEGIN CERTIFICATE-----\n';

const junk = (bytes: number): string => JUNK_LINE.repeat(Math.ceil(bytes / JUNK_LINE.length));

/** The scanner before: a lazy regex that rescans to the end for every BEGIN without an END. */
const OLD_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

function csr(pem: string): CsrObject {
  return {
    metadata: { name: 'bench', resourceVersion: '1' },
    spec: {
      request: Buffer.from(pem).toString('base64'),
      signerName: NODE_CLIENT_SIGNER,
      usages: nodeClientUsages(false),
      expirationSeconds: 3600,
      username: 'system:serviceaccount:spire:spire-agent',
      extra: {
        'authentication.kubernetes.io/node-name': ['node-a'],
        'authentication.kubernetes.io/node-uid': ['uid-a'],
        'authentication.kubernetes.io/pod-name': ['agent-a'],
        'authentication.kubernetes.io/pod-uid': ['uid-pod-a'],
      },
    },
    status: { conditions: [] },
  };
}

function time(run: () => unknown): number {
  const t0 = performance.now();
  run();
  return performance.now() - t0;
}

async function timeAsync(run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

export async function hostilePem(runs: number): Promise<Row[]> {
  const key = await generateKey('ecdsa-p256');
  const pem = await buildNodeCsr({ nodeName: 'node-a', keyType: 'ecdsa-p256', privateKey: key.privateKey });
  const honest = csr(pem);
  const hostile = csr(pem + junk(MIB));
  const options: DecideOptions = {
    lookups: {
      getNode: () => Promise.resolve({ name: 'node-a', uid: 'uid-a', deleting: false }),
      getPod: () => Promise.resolve(undefined),
    },
    allowNodeBoundTokens: false,
    podLookup: true,
    maxExpirationMs: DEFAULTS.maxExpirationMs,
  };
  // A CA bundle of that shape: a certificate, then 1 MiB of BEGIN lines (text after the last block).
  const bundle = `-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n${junk(MIB)}`;
  const small = `-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n${junk(100 * 1024)}`;

  // Outcomes first: the benchmark times decisions, so check that they are the expected ones.
  if ((await decide(hostile, options)).kind !== 'deny') throw new Error('the hostile CSR was not denied');
  if ((await decide(honest, options)).kind !== 'approve') throw new Error('the honest CSR was not approved');
  const scanned = decodeStrictPemCertificates(bundle);
  if (scanned.ok || scanned.problem.kind !== 'text-after')
    throw new Error('the hostile bundle was not refused');

  const approverHostile: number[] = [];
  const approverHonest: number[] = [];
  const scanHostile: number[] = [];
  const regexSmall: number[] = [];
  for (let i = 0; i < runs; i++) {
    approverHostile.push(await timeAsync(() => decide(hostile, options)));
    approverHonest.push(await timeAsync(() => decide(honest, options)));
    scanHostile.push(time(() => readPemBlocks(bundle)));
    regexSmall.push(time(() => [...small.matchAll(OLD_BLOCK)]));
  }
  const under50 = (r: { median: number }): { text: string; met: boolean } => ({
    text: '< 50 ms',
    met: r.median < 50,
  });
  return [
    row(
      'pem',
      'approver decides a CSR with 1 MiB of BEGIN junk after a valid request',
      'ms',
      approverHostile,
      {
        baseline: { name: 'an honest CSR', samples: approverHonest },
        goal: under50,
        note: `denied: spec.request (${String(hostile.spec.request.length)} bytes) is over the 16 KiB limit, before it is decoded`,
      },
    ),
    row('pem', 'PEM scanner reads a 1 MiB hostile bundle (valid block + BEGIN junk)', 'ms', scanHostile, {
      baseline: { name: 'old regex on 100 KiB', samples: regexSmall },
      goal: under50,
      note: 'the whole MiB is scanned (it is under the 4 MiB PEM limit); the old regex was quadratic: 100 KiB of the same took the baseline, 1 MiB took 36 s once (not run here)',
    }),
  ];
}

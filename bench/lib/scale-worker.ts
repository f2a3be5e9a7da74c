/**
 * One worker of the scale benchmark: many node identities requested at once through the shared
 * obtainIdentity library, each node with its own Kubernetes client (its own TLS connections), as
 * separate nodes would have. Prints "ready", waits for "go" on stdin so that every worker starts
 * together, then prints one JSON line with each node's timeline and what the client saw of the
 * API server (response codes, retries).
 *
 * Usage: node --import tsx bench/lib/scale-worker.ts <input.json>
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { generateKey } from '../../src/csr/keys.js';
import { buildNodeCsr } from '../../src/csr/request.js';
import { obtainIdentity } from '../../src/identity/obtain.js';
import { resolveKubeAccess } from '../../src/kube/access.js';
import { createCsrClient } from '../../src/kube/csr-client.js';
import { createLogger } from '../../src/log/logger.js';

export interface WorkerInput {
  readonly server: string;
  readonly caCert: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly nodes: readonly string[];
  /** Identity directories go under here, one per node. */
  readonly dir: string;
  readonly approvalTimeoutMs: number;
}

/** Epoch milliseconds of each step of one node (undefined when it did not get there). */
export interface NodeTimeline {
  readonly node: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly start: number;
  readonly submitted?: number;
  readonly approved?: number;
  readonly issued?: number;
  readonly done?: number;
}

export interface WorkerOutput {
  readonly nodes: readonly NodeTimeline[];
  /** HTTP status → count, of every request the clients made (watches count once, when opened). */
  readonly statuses: Readonly<Record<string, number>>;
  /** Transient errors the wait loop retried after (429, 5xx, network). */
  readonly retries: number;
  /** Creates retried after an HTTP 429. */
  readonly createRetries: number;
}

async function main(): Promise<void> {
  const input = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as WorkerInput;
  const access = await resolveKubeAccess({
    server: input.server,
    caCert: input.caCert,
    clientCert: input.clientCert,
    clientKey: input.clientKey,
  });
  const statuses: Record<string, number> = {};
  let retries = 0;
  let createRetries = 0;
  // The kube client logs each request at debug with its status; the wait loop logs each retry.
  const logger = createLogger({
    format: 'json',
    level: 'debug',
    write: (line) => {
      const rec = JSON.parse(line) as { msg?: string; status?: number };
      if (rec.msg === 'kubernetes request') {
        const key = String(rec.status ?? 'none');
        statuses[key] = (statuses[key] ?? 0) + 1;
      } else if (rec.msg === 'transient error while waiting; retrying') retries += 1;
      else if (rec.msg?.startsWith('the API server is busy (HTTP 429)') === true) createRetries += 1;
    },
  });

  // What a real node pays once per process (loading the CSR builder) is paid before the start
  // signal: this benchmark measures the API server and the controllers, not module loading.
  const warm = await generateKey('ecdsa-p256');
  await buildNodeCsr({ nodeName: 'warm-up', keyType: 'ecdsa-p256', privateKey: warm.privateKey });
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (l) => {
      if (l.trim() === 'go') {
        rl.close();
        resolve();
      }
    });
  });

  const nodes = await Promise.all(
    input.nodes.map(async (node): Promise<NodeTimeline> => {
      const t: { submitted?: number; approved?: number; issued?: number } = {};
      const start = Date.now();
      const client = createCsrClient(access, { logger });
      try {
        await obtainIdentity({
          idDir: join(input.dir, node),
          nodeName: node,
          keyType: 'ecdsa-p256',
          approvalTimeoutMs: input.approvalTimeoutMs,
          force: true,
          csrClient: client,
          logger,
          onProgress: (p) => {
            if (p.phase === 'submitted' || p.phase === 'approved' || p.phase === 'issued')
              t[p.phase] ??= Date.now();
          },
        });
        return { node, ok: true, start, ...t, done: Date.now() };
      } catch (err) {
        return { node, ok: false, error: err instanceof Error ? err.message : String(err), start, ...t };
      } finally {
        client.close();
      }
    }),
  );
  const out: WorkerOutput = { nodes, statuses, retries, createRetries };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

await main();

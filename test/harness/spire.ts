/**
 * Real spire-server and spire-agent processes for tests and the demo, with generated configs.
 * Plugins are given as HCL `plugins { … }` blocks, so a test can load ours, SPIRE's built-ins,
 * or both. Processes die with ours (see processes.ts).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binPath } from './bins.js';
import { freePort } from './ports.js';
import { ManagedProcess, startFailure } from './processes.js';

export const TRUST_DOMAIN = 'example.org';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function spireCli(
  bin: 'spire-server' | 'spire-agent',
  args: readonly string[],
  timeoutMs = 30_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(binPath(bin), args, { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

export interface AttestedAgent {
  readonly id: { readonly trust_domain: string; readonly path: string };
  readonly attestation_type: string;
  readonly x509svid_serial_number: string;
  readonly x509svid_expires_at: string;
  readonly selectors: readonly { readonly type: string; readonly value: string }[];
  readonly banned: boolean;
  readonly can_reattest: boolean;
}

export interface SpireServer {
  readonly dir: string;
  readonly port: number;
  readonly socketPath: string;
  readonly bundlePath: string;
  readonly process: ManagedProcess;
  /** Every attested agent (spire-server agent list -output json). */
  agents(): Promise<AttestedAgent[]>;
  log(): string;
  stop(): Promise<void>;
}

export interface SpireServerOptions {
  /** HCL of the NodeAttestor blocks (inside plugins { }). */
  readonly nodeAttestors: string;
  /** agent_ttl: the agent SVID lifetime (agents rotate, and re-attest, at about half of it). */
  readonly agentTtl?: string;
  readonly name?: string;
}

export async function startSpireServer(dir: string, o: SpireServerOptions): Promise<SpireServer> {
  mkdirSync(join(dir, 'data'), { recursive: true });
  const port = await freePort();
  const socketPath = join(dir, 'api.sock');
  const conf = join(dir, 'server.conf');
  writeFileSync(
    conf,
    `server {
  bind_address = "127.0.0.1"
  bind_port = "${String(port)}"
  socket_path = "${socketPath}"
  trust_domain = "${TRUST_DOMAIN}"
  data_dir = "${join(dir, 'data')}"
  log_level = "DEBUG"
  ${o.agentTtl !== undefined ? `agent_ttl = "${o.agentTtl}"` : ''}
  ratelimit { attestation = false }
}
plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = "${join(dir, 'data', 'datastore.sqlite3')}"
    }
  }
  KeyManager "memory" { plugin_data {} }
${o.nodeAttestors}
}
`,
  );
  const proc = new ManagedProcess({
    name: o.name ?? 'spire-server',
    command: binPath('spire-server'),
    args: ['run', '-config', conf],
    logFile: join(dir, 'spire-server.log'),
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.hasExited) throw startFailure(proc, 'it exited before becoming healthy');
    const h = await spireCli('spire-server', ['healthcheck', '-socketPath', socketPath], 5000);
    if (h.code === 0) break;
    if (Date.now() > deadline) {
      await proc.stop();
      throw startFailure(proc, 'not healthy after 60 s');
    }
    await sleep(200);
  }
  const bundle = await spireCli('spire-server', ['bundle', 'show', '-socketPath', socketPath]);
  if (bundle.code !== 0) throw new Error(`spire-server bundle show: ${bundle.stderr}`);
  const bundlePath = join(dir, 'bootstrap.pem');
  writeFileSync(bundlePath, bundle.stdout);
  return {
    dir,
    port,
    socketPath,
    bundlePath,
    process: proc,
    agents: async () => {
      const r = await spireCli('spire-server', [
        'agent',
        'list',
        '-socketPath',
        socketPath,
        '-output',
        'json',
      ]);
      if (r.code !== 0) throw new Error(`spire-server agent list: ${r.stderr}`);
      return (JSON.parse(r.stdout) as { agents?: AttestedAgent[] }).agents ?? [];
    },
    log: () => readFileSync(proc.logFile, 'utf8'),
    stop: () => proc.stop(),
  };
}

export interface SpireAgent {
  readonly dir: string;
  readonly socketPath: string;
  readonly process: ManagedProcess;
  log(): string;
  healthy(): Promise<boolean>;
  /** Resolves when healthy (attested, SVID obtained); rejects with the log tail if it exits. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface SpireAgentOptions {
  /** HCL of the one NodeAttestor block. */
  readonly nodeAttestor: string;
  /** Extra lines inside agent { }, e.g. join_token = "…". */
  readonly agentSettings?: string;
  readonly name?: string;
}

export function startSpireAgent(dir: string, server: SpireServer, o: SpireAgentOptions): SpireAgent {
  // A fresh data_dir: an agent with a cached SVID would not attest again.
  mkdirSync(join(dir, 'data'), { recursive: true });
  const socketPath = join(dir, 'agent.sock');
  const conf = join(dir, 'agent.conf');
  writeFileSync(
    conf,
    `agent {
  data_dir = "${join(dir, 'data')}"
  log_level = "DEBUG"
  server_address = "127.0.0.1"
  server_port = "${String(server.port)}"
  socket_path = "${socketPath}"
  trust_domain = "${TRUST_DOMAIN}"
  trust_bundle_path = "${server.bundlePath}"
${o.agentSettings ?? ''}
}
plugins {
  KeyManager "memory" { plugin_data {} }
  WorkloadAttestor "unix" { plugin_data {} }
${o.nodeAttestor}
}
`,
  );
  const proc = new ManagedProcess({
    name: o.name ?? 'spire-agent',
    command: binPath('spire-agent'),
    args: ['run', '-config', conf],
    logFile: join(dir, 'spire-agent.log'),
  });
  const healthy = async (): Promise<boolean> =>
    (await spireCli('spire-agent', ['healthcheck', '-socketPath', socketPath], 5000)).code === 0;
  return {
    dir,
    socketPath,
    process: proc,
    log: () => readFileSync(proc.logFile, 'utf8'),
    healthy,
    waitHealthy: async (timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (proc.hasExited) throw startFailure(proc, 'it exited before becoming healthy');
        if (await healthy()) return;
        if (Date.now() > deadline)
          throw startFailure(proc, `not healthy after ${String(timeoutMs / 1000)} s`);
        await sleep(200);
      }
    },
    stop: () => proc.stop(),
  };
}

const checksums = new Map<string, string>();

/** SPIRE's plugin_checksum for `file`: the SHA-256 of the file a link resolves to, as SPIRE hashes it. */
export function pluginChecksum(file: string): string {
  const real = realpathSync(file);
  let sum = checksums.get(real);
  if (sum === undefined) {
    sum = createHash('sha256').update(readFileSync(real)).digest('hex');
    checksums.set(real, sum);
  }
  return sum;
}

/**
 * HCL for one of our plugins, as users ship it: plugin_cmd is the single executable's link named
 * after the plugin (`family` and `side` pick which) in `distDir`, with its plugin_checksum; data
 * is the plugin_data body.
 */
export function ourPlugin(
  side: 'agent' | 'server',
  name: string,
  data: string,
  distDir: string,
  family: 'k8s-csr' | 'k8s-pod-cert' = 'k8s-csr',
): string {
  const cmd = join(distDir, `${family}-${side}-plugin`);
  return `  NodeAttestor "${name}" {
    plugin_cmd = "${cmd}"
    plugin_checksum = "${pluginChecksum(cmd)}"
    plugin_data {
${data
  .split('\n')
  .map((l) => `      ${l}`)
  .join('\n')}
    }
  }`;
}

/**
 * Real kubeconfig exec credential plugins for tests: a small executable node script that follows
 * a plan (one step per run, the last repeating), counts its runs in a file and records what it
 * was given (argv, KUBERNETES_EXEC_INFO, chosen env variables, whether stdin was a terminal).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ExecStep {
  /** An ExecCredential status (apiVersion/kind are added); or `raw` to print exactly that. */
  readonly status?: {
    readonly token?: string;
    readonly clientCertificateData?: string;
    readonly clientKeyData?: string;
    /** RFC 3339 text as given. */
    readonly expirationTimestamp?: string;
  };
  /** expirationTimestamp this many ms after the run. */
  readonly expiresInMs?: number;
  readonly apiVersion?: string;
  readonly raw?: string;
  readonly stderr?: string;
  readonly exit?: number;
  /** Never finish (a wedged plugin). */
  readonly hang?: boolean;
}

export interface ExecRecord {
  readonly argv: string[];
  readonly info: {
    apiVersion: string;
    kind: string;
    spec: { interactive: boolean; cluster?: Record<string, unknown> };
  };
  readonly env: Record<string, string | null>;
  readonly pid: number;
}

export interface ExecPlugin {
  /** The executable. */
  readonly path: string;
  /** How many times it has run. */
  runs(): number;
  /** What each run was given, in order. */
  records(): ExecRecord[];
  /** Replaces the plan (runs already counted stay counted). */
  plan(steps: readonly ExecStep[]): void;
}

const SCRIPT = `
const fs = require('node:fs');
const dir = __dirname;
const count = (fs.existsSync(dir + '/count') ? Number(fs.readFileSync(dir + '/count', 'utf8')) : 0) + 1;
fs.writeFileSync(dir + '/count', String(count));
const env = {};
for (const k of JSON.parse(fs.readFileSync(dir + '/watch-env', 'utf8'))) env[k] = process.env[k] ?? null;
fs.appendFileSync(dir + '/records', JSON.stringify({ argv: process.argv.slice(2), info: JSON.parse(process.env.KUBERNETES_EXEC_INFO ?? 'null'), env, pid: process.pid }) + '\\n');
const plan = JSON.parse(fs.readFileSync(dir + '/plan', 'utf8'));
const step = plan[Math.min(count, plan.length) - 1];
if (step.hang) setInterval(() => {}, 1000);
else {
  if (step.stderr) process.stderr.write(step.stderr);
  if (step.raw !== undefined) process.stdout.write(step.raw);
  else if (step.status) {
    const status = { ...step.status };
    if (step.expiresInMs !== undefined) status.expirationTimestamp = new Date(Date.now() + step.expiresInMs).toISOString();
    process.stdout.write(JSON.stringify({ apiVersion: step.apiVersion ?? 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status }));
  }
  process.exitCode = step.exit ?? 0;
}
`;

/** Writes an exec plugin `name` into `dir` (an existing directory). */
export function writeExecPlugin(
  dir: string,
  name: string,
  steps: readonly ExecStep[],
  watchEnv: readonly string[] = [],
): ExecPlugin {
  const path = join(dir, name);
  const data = `${path}.d`;
  mkdirSync(data, { recursive: true });
  writeFileSync(join(data, 'plugin.cjs'), SCRIPT);
  writeFileSync(join(data, 'watch-env'), JSON.stringify(watchEnv));
  // A shell wrapper that execs node: the plugin's pid is node's, and the script is CommonJS
  // whatever package.json governs the directory.
  writeFileSync(path, `#!/bin/sh\nexec '${process.execPath}' '${join(data, 'plugin.cjs')}' "$@"\n`);
  chmodSync(path, 0o755);
  const plugin: ExecPlugin = {
    path,
    runs: () => (existsSync(join(data, 'count')) ? Number(readFileSync(join(data, 'count'), 'utf8')) : 0),
    records: () =>
      existsSync(join(data, 'records'))
        ? readFileSync(join(data, 'records'), 'utf8')
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => JSON.parse(l) as ExecRecord)
        : [],
    plan: (next) => {
      writeFileSync(join(data, 'plan'), JSON.stringify(next));
    },
  };
  plugin.plan(steps);
  return plugin;
}

/** The `user:` body lines of a kubeconfig whose user runs `command`. */
export function execUserLines(
  command: string,
  opts: {
    apiVersion?: string;
    interactiveMode?: string;
    args?: readonly string[];
    env?: Readonly<Record<string, string>>;
    provideClusterInfo?: boolean;
    installHint?: string;
  } = {},
): string[] {
  const q = (s: string): string => JSON.stringify(s);
  return [
    'exec:',
    `  apiVersion: ${opts.apiVersion ?? 'client.authentication.k8s.io/v1'}`,
    `  command: ${q(command)}`,
    ...(opts.interactiveMode === '' ? [] : [`  interactiveMode: ${opts.interactiveMode ?? 'Never'}`]),
    ...(opts.args === undefined ? [] : ['  args:', ...opts.args.map((a) => `  - ${q(a)}`)]),
    ...(opts.env === undefined
      ? []
      : ['  env:', ...Object.entries(opts.env).map(([k, v]) => `  - {name: ${q(k)}, value: ${q(v)}}`)]),
    ...(opts.provideClusterInfo === true ? ['  provideClusterInfo: true'] : []),
    ...(opts.installHint === undefined ? [] : [`  installHint: ${q(opts.installHint)}`]),
  ];
}

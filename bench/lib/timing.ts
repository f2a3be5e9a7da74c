/** Wall-clock timing of whole processes, as a user experiences them. */
import { spawn } from 'node:child_process';

/** Milliseconds from spawn to exit; rejects on a non-zero exit. */
export function timeProcess(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: env ?? process.env });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${String(code)}: ${err.trim().slice(-500)}`));
    });
  });
}

/** Milliseconds from spawn to the first line on stdout (e.g. go-plugin's handshake); then kills it. */
export function timeToFirstLine(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ ms: number; line: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'], env });
    let out = '';
    child.once('error', reject);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        const ms = performance.now() - t0;
        child.kill('SIGKILL');
        resolve({ ms, line: out.slice(0, nl) });
      }
    });
    child.once('exit', (code) => {
      if (!out.includes('\n')) reject(new Error(`${cmd} exited ${String(code)} before printing a line`));
    });
  });
}

/** Runs a() and b() alternately n times each, so machine noise hits both alike. */
export async function interleave(
  n: number,
  a: () => Promise<number>,
  b: () => Promise<number>,
): Promise<[number[], number[]]> {
  const as: number[] = [];
  const bs: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      as.push(await a());
      bs.push(await b());
    } else {
      bs.push(await b());
      as.push(await a());
    }
  }
  return [as, bs];
}

/** Runs each of `fns` n times, round by round, rotating who goes first, so noise hits all alike. */
export async function interleaveMany(
  n: number,
  fns: readonly (() => Promise<number>)[],
): Promise<number[][]> {
  const out = fns.map((): number[] => []);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < fns.length; k++) {
      const j = (i + k) % fns.length;
      const fn = fns[j];
      if (fn === undefined) continue;
      out[j]?.push(await fn());
    }
  }
  return out;
}

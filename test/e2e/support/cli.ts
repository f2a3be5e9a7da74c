/**
 * Runs the node-attestor command as users ship it (the single executable dist/node-attestor, on
 * the Node it carries) and inspects what it left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../harness/bins.js';

export const CLI = join(REPO_ROOT, 'dist', 'node-attestor');

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function startCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): {
  child: ChildProcess;
  done: Promise<CliRun>;
  /** Resolves once stderr (so far or later) matches; rejects if the CLI exits first. */
  stderrMatch(re: RegExp): Promise<void>;
} {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing; run npm run build`);
  const child = spawn(CLI, args, {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<CliRun>((resolve) => {
    child.once('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
  const stderrMatch = (re: RegExp): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!re.test(stderr)) return;
        child.stderr.off('data', check);
        resolve();
      };
      // After the collector above, so stderr already holds the new chunk.
      child.stderr.on('data', check);
      check();
      void done.then((r) => {
        if (!re.test(r.stderr))
          reject(new Error(`CLI exited (${String(r.code)}) before ${String(re)}:\n${r.stderr}`));
      });
    });
  return { child, done, stderrMatch };
}

export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return startCli(args, env).done;
}

/** The visible entries of an identity directory ([] when it does not exist). */
export function identityFiles(dir: string): string[] {
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((n) => !n.startsWith('.'))
        .sort()
    : [];
}

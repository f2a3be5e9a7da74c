/**
 * Runs a kubeconfig exec credential plugin once, as kubectl does: no shell, this process's
 * environment plus the kubeconfig's `env` plus KUBERNETES_EXEC_INFO, standard input (and the
 * plugin's messages on stderr) only when interactive, the ExecCredential read from stdout.
 *
 * Unlike kubectl, a run is bounded (EXEC_TIMEOUT_MS) so a wedged plugin cannot hang a node's
 * attestation forever; a browser or device-code login fits in it comfortably.
 */
import { spawn } from 'node:child_process';
import { isatty } from 'node:tty';
import { abortError } from '../util/abort.js';
import type { ExecConfig } from './exec-config.js';
import {
  execError,
  execInfo,
  parseExecOutput,
  type ExecClusterInfo,
  type ExecResult,
} from './exec-credential.js';
import { oneLine } from './kube-errors.js';

export const EXEC_TIMEOUT_MS = 120_000;
const MAX_STDOUT_BYTES = 1024 * 1024;
const STDERR_TAIL_BYTES = 4096;

export interface ExecRunOptions {
  /** Given to the plugin when the kubeconfig sets provideClusterInfo. */
  readonly cluster?: ExecClusterInfo;
  /** Default: whether fd 0 is a terminal. */
  readonly stdinIsTerminal?: boolean;
  /** Default EXEC_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Whether this run may talk to the user (interactiveMode against the terminal). */
function interactive(cfg: ExecConfig, stdinIsTerminal: boolean): boolean {
  switch (cfg.interactiveMode) {
    case 'Never':
      return false;
    case 'IfAvailable':
      return stdinIsTerminal;
    case 'Always':
      if (!stdinIsTerminal)
        throw execError(
          cfg,
          'it needs a terminal (interactiveMode: Always) but standard input is not a terminal; run it once from a terminal, or use a plugin mode that logs in without one',
        );
      return true;
  }
}

function lastLine(text: string): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return oneLine(lines.at(-1) ?? '', 200);
}

export async function runExecPlugin(cfg: ExecConfig, o: ExecRunOptions = {}): Promise<ExecResult> {
  const talk = interactive(cfg, o.stdinIsTerminal ?? isatty(0));
  const timeoutMs = o.timeoutMs ?? EXEC_TIMEOUT_MS;
  const signal = o.signal;
  const what = `running ${cfg.command}`;
  if (signal?.aborted === true) throw abortError(signal, what);

  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const e of cfg.env) env[e.name] = e.value;
  env.KUBERNETES_EXEC_INFO = execInfo(cfg.apiVersion, talk, cfg.provideClusterInfo ? o.cluster : undefined);

  return await new Promise<ExecResult>((resolve, reject) => {
    const child = spawn(cfg.command, [...cfg.args], {
      env,
      stdio: [talk ? 'inherit' : 'ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrTail = '';
    let settled = false;
    const finish = (err: Error | undefined, result?: ExecResult, kill: NodeJS.Signals = 'SIGKILL'): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err !== undefined) {
        // Nothing more is read from a run we gave up on; it must not keep this process alive.
        if (child.exitCode === null && child.signalCode === null) child.kill(kill);
        child.stdout.destroy();
        child.stderr.destroy();
        child.unref();
        reject(err);
      } else if (result !== undefined) resolve(result);
    };
    // A cancelled login may clean up (a terminal in raw mode); a wedged plugin is killed.
    const onAbort = (): void => {
      if (signal !== undefined) finish(abortError(signal, what), undefined, 'SIGTERM');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      finish(execError(cfg, `it did not finish within ${timeoutMs / 1000}s and was stopped`));
    }, timeoutMs);

    child.stdout.on('data', (c: Buffer) => {
      stdoutBytes += c.length;
      if (stdoutBytes > MAX_STDOUT_BYTES)
        finish(execError(cfg, `it printed more than ${MAX_STDOUT_BYTES} bytes on stdout`));
      else stdout.push(c);
    });
    child.stderr.on('data', (c: Buffer) => {
      // A login flow tells the user what to do on stderr; otherwise it is only kept for errors.
      if (talk) process.stderr.write(c);
      stderrTail = (stderrTail + c.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        const hint =
          cfg.installHint === undefined
            ? `install it, or fix users[name="${cfg.userName}"].user.exec.command in kubeconfig ${cfg.file}`
            : oneLine(cfg.installHint);
        const where = cfg.command.includes('/') ? 'no such file' : `looked for "${cfg.command}" on PATH`;
        finish(execError(cfg, `command not found (${where}); ${hint}`, err));
      } else if (err.code === 'EACCES') {
        finish(execError(cfg, 'the command cannot be run (permission denied: is it executable?)', err));
      } else {
        finish(execError(cfg, `the command cannot be run (${err.code ?? err.message})`, err));
      }
    });
    child.once('close', (code, sig) => {
      if (code !== 0) {
        const why = code === null ? `was killed by ${sig ?? 'a signal'}` : `exited with code ${code}`;
        const tail = lastLine(stderrTail);
        finish(execError(cfg, `it ${why}${tail === '' ? ' (nothing on stderr)' : `: ${tail}`}`));
        return;
      }
      try {
        finish(undefined, parseExecOutput(cfg, Buffer.concat(stdout).toString('utf8')));
      } catch (err) {
        finish(err as Error);
      }
    });
  });
}

/**
 * Child processes that cannot outlive the test: each is started through `setpriv --pdeathsig
 * KILL`, so the kernel kills it when our process dies, even by SIGKILL; a normal exit or a
 * signal stops them too. Output goes to a log file whose tail is shown when a start fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';

const live = new Set<ManagedProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const p of live) p.killNow();
  });
}

export interface StartOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /**
   * The command forks the real program and only waits for it, forwarding no signal (`unshare
   * --fork`, `nsenter --pid`): stop() then sends SIGTERM to that child, and the command exits
   * when it does.
   */
  readonly signalChild?: boolean;
}

export class ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private spawnError: Error | undefined;
  private readonly signalChild: boolean;

  constructor(o: StartOptions) {
    hookExit();
    this.name = o.name;
    this.logFile = o.logFile;
    this.signalChild = o.signalChild === true;
    const fd = openSync(o.logFile, 'a');
    try {
      this.child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', o.command, ...o.args], {
        stdio: ['ignore', fd, fd],
        env: o.env ?? process.env,
        cwd: o.cwd,
      });
    } finally {
      closeSync(fd);
    }
    live.add(this);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      this.child.once('error', (err) => {
        // setpriv itself could not be run (not installed): there is no log to show, so say so.
        this.spawnError = err;
        live.delete(this);
        this.exitInfo = { code: 127, signal: null };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  describeExit(): string {
    if (this.exitInfo === undefined) return 'still running';
    if (this.spawnError !== undefined)
      return `could not run setpriv (util-linux; apt-get install util-linux): ${this.spawnError.message}`;
    return this.exitInfo.signal !== null
      ? `killed by ${this.exitInfo.signal}`
      : `exited with code ${String(this.exitInfo.code)}`;
  }

  tail(lines = 25): string {
    if (!existsSync(this.logFile)) return '(no log)';
    const all = readFileSync(this.logFile, 'utf8').trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  }

  /** The program's PID: ours, or with `signalChild` the child the command forked (if yet). */
  get programPid(): number | undefined {
    const pid = this.child.pid;
    if (!this.signalChild || pid === undefined) return pid;
    try {
      const first = readFileSync(`/proc/${String(pid)}/task/${String(pid)}/children`, 'utf8')
        .trim()
        .split(' ')[0];
      return first !== undefined && first !== '' ? Number(first) : undefined;
    } catch {
      return undefined;
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves when the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.hasExited) return;
    const target = this.programPid;
    const signal = (sig: NodeJS.Signals): void => {
      if (this.signalChild && target !== undefined) {
        try {
          process.kill(target, sig);
        } catch {
          // the program is gone; the command follows
        }
        // The command exits with its program; only a SIGKILL is also for the command itself.
        if (sig !== 'SIGKILL') return;
      }
      this.child.kill(sig);
    };
    signal('SIGTERM');
    const timer = setTimeout(() => {
      signal('SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  killNow(): void {
    if (!this.hasExited) this.child.kill('SIGKILL');
  }
}

/** Error for a component that failed to start: which, why, and the tail of its log. */
export function startFailure(p: ManagedProcess, why: string): Error {
  return new Error(
    `${p.name} failed to start: ${why} (${p.describeExit()}); log ${p.logFile}, last lines:\n${p.tail()}`,
  );
}

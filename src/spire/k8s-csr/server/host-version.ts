/**
 * Which SPIRE server started this plugin. The go-plugin protocol does not say, but address binding
 * needs SPIRE ≥ 1.15 (the first to forward the agent's address to plugins), and an option that
 * cannot work must be refused at Configure rather than silently ignored. SPIRE execs the plugin
 * directly (no shell), so the parent process is spire-server; its `--version` prints e.g.
 * "1.13.3" or "1.15.2-dev-unk" on stderr.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

export interface SpireVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly text: string;
}

export function parseSpireVersion(text: string): SpireVersion | undefined {
  const m = /(?:^|\s|v)(\d+)\.(\d+)\.(\d+)\S*/.exec(text.trim());
  if (m === null) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), text: m[0].trim() };
}

export function atLeast(v: SpireVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/** The parent's executable when it is a spire-server, else undefined. */
function parentSpireServer(): string | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
    const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
    if (ppid === undefined) return undefined;
    const exe = readlinkSync(`/proc/${ppid}/exe`);
    return basename(exe).startsWith('spire-server') ? exe : undefined;
  } catch {
    return undefined;
  }
}

/** The version of the spire-server that started us, or undefined when it cannot be told. */
export function hostSpireVersion(timeoutMs = 5000): Promise<SpireVersion | undefined> {
  const exe = parentSpireServer();
  if (exe === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    execFile(exe, ['--version'], { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve(err === null ? parseSpireVersion(`${stdout} ${stderr}`) : undefined);
    });
  });
}

/**
 * What every subcommand gets from the entry point, and the one format of a failure line:
 * `<program>: error: <message on one line> (see <program> -help)` for usage errors.
 */
import type { AttestorError } from '../../errors.js';

export interface CliIo {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  /** Whether stderr is a terminal (progress line). */
  readonly stderrIsTTY: boolean;
  /** Aborted on SIGINT/SIGTERM with an ERR_CANCELLED reason. */
  readonly signal?: AbortSignal;
  readonly version: string;
}

/** The stderr line for a failed command run as `program` (e.g. "node-attestor approver"). */
export function errorLine(program: string, err: AttestorError): string {
  const hint = err.code === 'ERR_USAGE' && !err.message.includes('-help') ? ` (see ${program} -help)` : '';
  return `${program}: error: ${err.message.replaceAll(/\s*\n\s*/g, '; ')}${hint}\n`;
}

/**
 * `node-attestor approver …`: flags → runApprover → an exit code. A SIGTERM/SIGINT (the CLI's
 * abort signal) is the normal way to stop, so it ends with 0 once the Lease is released.
 */
import { toAttestorError } from '../../errors.js';
import { EXIT, exitCodeFor } from '../kit/exit-codes.js';
import { errorLine, type CliIo } from '../kit/io.js';
import { createLogger } from '../../log/logger.js';
import { approverHelpText } from './help.js';
import { parseApproverCommandLine } from './options.js';
import { runApprover, type RunApproverDeps } from '../../approver/run.js';

export async function approverMain(
  argv: readonly string[],
  io: CliIo,
  seams: Omit<RunApproverDeps, 'logger' | 'signal'> = {},
): Promise<number> {
  try {
    const cmd = parseApproverCommandLine(argv);
    if (cmd.kind === 'help') {
      io.stdout(approverHelpText());
      return EXIT.OK;
    }
    if (cmd.kind === 'version') {
      io.stdout(`node-attestor ${io.version}\n`);
      return EXIT.OK;
    }
    const o = cmd.options;
    const logger = createLogger({
      format: o.logFormat,
      level: o.logLevel,
      module: 'node-attestor approver',
      write: io.stderr,
    });
    await runApprover(o, { ...seams, logger, signal: io.signal ?? new AbortController().signal });
    return EXIT.OK;
  } catch (thrown) {
    const err = toAttestorError(thrown);
    io.stderr(errorLine('node-attestor approver', err));
    return exitCodeFor(err.code);
  }
}

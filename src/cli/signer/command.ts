/**
 * `node-attestor signer …`: flags → runSigner → an exit code. SIGTERM/SIGINT (the CLI's abort
 * signal) is the normal way to stop: 0 once the Lease is released.
 */
import { toAttestorError } from '../../errors.js';
import { EXIT, exitCodeFor } from '../kit/exit-codes.js';
import { errorLine, type CliIo } from '../kit/io.js';
import { createLogger } from '../../log/logger.js';
import { signerHelpText } from './help.js';
import { parseSignerCommandLine } from './options.js';
import { runSigner, type RunSignerDeps } from '../../signer/run.js';

export async function signerMain(
  argv: readonly string[],
  io: CliIo,
  seams: Omit<RunSignerDeps, 'logger' | 'signal'> = {},
): Promise<number> {
  try {
    const cmd = parseSignerCommandLine(argv);
    if (cmd.kind === 'help') {
      io.stdout(signerHelpText());
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
      module: 'node-attestor signer',
      write: io.stderr,
    });
    await runSigner(o, { ...seams, logger, signal: io.signal ?? new AbortController().signal });
    return EXIT.OK;
  } catch (thrown) {
    const err = toAttestorError(thrown);
    io.stderr(errorLine('node-attestor signer', err));
    return exitCodeFor(err.code);
  }
}

/**
 * How a controller subcommand (`approver`, `signer`) turns its command line into an exit code:
 * help and version, a logger from the log flags, then the controller runs until the CLI's abort
 * signal (SIGTERM/SIGINT), which is the normal way to stop (0 once the Lease is released).
 */
import { toAttestorError } from '../../errors.js';
import { createLogger, type Logger } from '../../log/logger.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { errorLine, type CliIo } from './io.js';
import type { LogFlags } from './log-flags.js';

export type ControllerCommandLine<O> =
  { readonly kind: 'run'; readonly options: O } | { readonly kind: 'help' } | { readonly kind: 'version' };

export interface ControllerCommand<O extends LogFlags> {
  /** e.g. "node-attestor approver": the logger's module and the error line's program. */
  readonly program: string;
  readonly parse: (argv: readonly string[]) => ControllerCommandLine<O>;
  readonly helpText: () => string;
  readonly run: (
    options: O,
    deps: { readonly logger: Logger; readonly signal: AbortSignal },
  ) => Promise<void>;
}

export async function controllerMain<O extends LogFlags>(
  argv: readonly string[],
  io: CliIo,
  c: ControllerCommand<O>,
): Promise<number> {
  try {
    const cmd = c.parse(argv);
    if (cmd.kind === 'help') {
      io.stdout(c.helpText());
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
      module: c.program,
      write: io.stderr,
    });
    await c.run(o, { logger, signal: io.signal ?? new AbortController().signal });
    return EXIT.OK;
  } catch (thrown) {
    const err = toAttestorError(thrown);
    io.stderr(errorLine(c.program, err));
    return exitCodeFor(err.code);
  }
}

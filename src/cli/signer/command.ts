/**
 * `node-attestor signer …`: flags → runSigner → an exit code (../kit/controller-command.ts).
 */
import { controllerMain } from '../kit/controller-command.js';
import type { CliIo } from '../kit/io.js';
import { signerHelpText } from './help.js';
import { parseSignerCommandLine } from './options.js';
import { runSigner, type RunSignerDeps } from '../../signer/run.js';

export function signerMain(
  argv: readonly string[],
  io: CliIo,
  seams: Omit<RunSignerDeps, 'logger' | 'signal'> = {},
): Promise<number> {
  return controllerMain(argv, io, {
    program: 'node-attestor signer',
    parse: parseSignerCommandLine,
    helpText: signerHelpText,
    run: (o, deps) => runSigner(o, { ...seams, ...deps }),
  });
}

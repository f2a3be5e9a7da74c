/**
 * `node-attestor approver …`: flags → runApprover → an exit code (../kit/controller-command.ts).
 */
import { controllerMain } from '../kit/controller-command.js';
import type { CliIo } from '../kit/io.js';
import { approverHelpText } from './help.js';
import { parseApproverCommandLine } from './options.js';
import { runApprover, type RunApproverDeps } from '../../approver/run.js';

export function approverMain(
  argv: readonly string[],
  io: CliIo,
  seams: Omit<RunApproverDeps, 'logger' | 'signal'> = {},
): Promise<number> {
  return controllerMain(argv, io, {
    program: 'node-attestor approver',
    parse: parseApproverCommandLine,
    helpText: approverHelpText,
    run: (o, deps) => runApprover(o, { ...seams, ...deps }),
  });
}

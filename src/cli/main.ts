/**
 * The node-attestor command tree: `node-attestor [flags]` obtains the node's identity,
 * `node-attestor approver [flags]` runs the node-bound CSR approver, `node-attestor signer [flags]`
 * the PodCertificateRequest signer. Both are loaded on demand so the identity flow's start-up
 * does not pay for them; the identity command takes no positional
 * arguments, so a subcommand name never shadows a valid identity command line.
 */
import { identityMain } from './identity/command.js';
import type { CliIo } from './kit/io.js';

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv[0] === 'approver') {
    const { approverMain } = await import('./approver/command.js');
    return approverMain(argv.slice(1), io);
  }
  if (argv[0] === 'signer') {
    const { signerMain } = await import('./signer/command.js');
    return signerMain(argv.slice(1), io);
  }
  return identityMain(argv, io);
}

// Entry point of the node-attestor command (bundled to dist/node-attestor.mjs).
import pkg from '../../package.json' with { type: 'json' };
import { AttestorError } from '../errors.js';
import { main } from '../cli/main.js';

const controller = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    controller.abort(new AttestorError('ERR_CANCELLED', `interrupted by ${sig}; nothing was written`));
  });
}

const code = await main(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  stderrIsTTY: process.stderr.isTTY,
  signal: controller.signal,
  version: pkg.version,
});
process.exitCode = code;

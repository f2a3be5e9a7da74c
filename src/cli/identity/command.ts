/**
 * The node-attestor identity command: flags → Kubernetes access → the shared obtain-or-reuse
 * flow → one result line. Every failure becomes one line on stderr (and a JSON object on stdout
 * with --output json) and a documented exit code; nothing is written unless the pair is complete.
 */
import { toAttestorError } from '../../errors.js';
import { obtainIdentity } from '../../identity/obtain.js';
import { resolveKubeAccess } from '../../kube/access.js';
import { createCsrClient } from '../../kube/csr-client.js';
import { createLogger } from '../../log/logger.js';
import { EXIT, exitCodeFor } from '../kit/exit-codes.js';
import { errorLine, type CliIo } from '../kit/io.js';
import { helpText } from './help.js';
import { parseCommandLine, type CliOptions } from './options.js';
import { errorJson, resultJson, resultText } from './output.js';
import { createProgressReporter } from './progress.js';

async function run(o: CliOptions, io: CliIo): Promise<number> {
  const logger = createLogger({
    format: o.logFormat,
    level: o.logLevel,
    module: 'node-attestor',
    write: io.stderr,
  });
  const access = await resolveKubeAccess(o);
  for (const w of access.warnings) logger.warn(w);
  logger.debug(`Kubernetes API: ${access.description}`);
  const csrClient = createCsrClient(access, { logger, waitMode: o.wait });
  const progress = createProgressReporter(
    logger,
    o.logFormat === 'text' ? { isTTY: io.stderrIsTTY, write: io.stderr } : undefined,
  );
  try {
    const result = await obtainIdentity({
      ...o.identity,
      csrClient,
      logger,
      ...(io.signal !== undefined ? { signal: io.signal } : {}),
      onProgress: (p) => {
        progress.update(p);
      },
    });
    progress.stop();
    io.stdout(o.output === 'json' ? resultJson(result) : resultText(result));
    return EXIT.OK;
  } finally {
    progress.stop();
    csrClient.close();
  }
}

/** Whether the command line asks for JSON, read leniently: used when the flags themselves fail to parse. */
function wantsJson(argv: readonly string[]): boolean {
  return argv.some((a, i) => /^--?output=json$/.test(a) || (/^--?output$/.test(a) && argv[i + 1] === 'json'));
}

export async function identityMain(argv: readonly string[], io: CliIo): Promise<number> {
  let output: 'text' | 'json' = wantsJson(argv) ? 'json' : 'text';
  try {
    const cmd = parseCommandLine(argv);
    switch (cmd.kind) {
      case 'help':
        io.stdout(helpText());
        return EXIT.OK;
      case 'version':
        io.stdout(`node-attestor ${io.version}\n`);
        return EXIT.OK;
      case 'run':
        output = cmd.options.output;
        return await run(cmd.options, io);
    }
  } catch (thrown) {
    const err = toAttestorError(thrown);
    const code = exitCodeFor(err.code);
    io.stderr(errorLine('node-attestor', err));
    if (output === 'json') io.stdout(errorJson(err, code));
    return code;
  }
}

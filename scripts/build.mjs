// Bundles each executable into one self-contained ESM file with a shebang, so SPIRE's
// plugin_cmd can point straight at it and the CLI starts without resolving node_modules.
import { build } from 'esbuild';
import { chmodSync, existsSync, readFileSync } from 'node:fs';

// grpc-js and friends are CommonJS and call require(); give the ESM bundle one.
const REQUIRE_SHIM =
  "import { createRequire as __naCreateRequire } from 'node:module';\nconst require = __naCreateRequire(import.meta.url);";

/**
 * Node flags the server plugin always runs with. A shebang passes at most one argument and
 * busybox's env (Alpine) has no -S, so the file starts as a shell script whose second line execs
 * node with the flags on this same file; to JavaScript that line is a string and a comment. The
 * young generation (16 MB × 2 by default) and an uncapped old generation are what let the plugin
 * grow to ~150 MB under load; one V8 worker thread instead of four saves their malloc arenas.
 * The price: ~10 % more CPU per attestation and ~50 ms more start-up (with V8 flags set, V8
 * refuses Node's code cache for its own modules). bench/lib/launcher.ts reads the flags back from
 * this line; docs/plugin-server-k8s-csr.md and bench/README.md have the measurements.
 */
const SERVER_PLUGIN_NODE_FLAGS = ['--max-semi-space-size=2', '--max-old-space-size=128', '--v8-pool-size=1'];
const SERVER_LAUNCHER = `#!/bin/sh\n":" //; exec node ${SERVER_PLUGIN_NODE_FLAGS.join(' ')} "$0" "$@"`;

const entries = [
  { entry: 'src/bin/node-attestor.ts', outfile: 'dist/node-attestor.mjs' },
  { entry: 'src/bin/agent-plugin.ts', outfile: 'dist/k8s-csr-agent-plugin.mjs' },
  {
    entry: 'src/bin/server-plugin.ts',
    outfile: 'dist/k8s-csr-server-plugin.mjs',
    launcher: SERVER_LAUNCHER,
    // V8 keeps a script's source for as long as the process lives: without comments and
    // indentation that is 1.5 MB instead of 2.2 MB. Names stay, and the source map still maps.
    options: { minifyWhitespace: true },
    latin1Only: true,
  },
].filter(({ entry }) => existsSync(entry));

for (const { entry, outfile, launcher = '#!/usr/bin/env node', options = {}, latin1Only } of entries) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: 'linked',
    legalComments: 'none',
    banner: { js: `${launcher}\n${REQUIRE_SHIM}` },
    logLevel: 'warning',
    ...options,
  });
  if (latin1Only) {
    // One character above U+00FF (esbuild leaves regular expressions as written) makes V8 hold
    // the whole source as a two-byte string: twice the memory for as long as the plugin runs.
    const text = readFileSync(outfile, 'utf8');
    const at = text.search(/[^\u0000-\u00ff]/u);
    if (at >= 0)
      throw new Error(
        `${outfile}: character ${JSON.stringify(text[at])} at offset ${at} (${JSON.stringify(text.slice(Math.max(0, at - 40), at + 10))}); escape it in the source`,
      );
  }
  chmodSync(outfile, 0o755);
  console.error(`built ${outfile}`);
}

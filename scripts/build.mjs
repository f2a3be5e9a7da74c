// Bundles each executable into one self-contained ESM file with a shebang, so SPIRE's
// plugin_cmd can point straight at it and the CLI starts without resolving node_modules; then
// (unless --bundles-only) the single executable dist/node-attestor: all three programs and the
// pinned Node runtime in one file (Node's single-executable application support).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  readFileSync,
  copyFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

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

const bundlesOnly = process.argv.includes('--bundles-only');
for (const a of process.argv.slice(2))
  if (a !== '--bundles-only') {
    console.error(`build.mjs: unknown argument ${JSON.stringify(a)} (the only one is --bundles-only)`);
    process.exit(2);
  }

/** Refuses a bundle with a character above U+00FF (see the server plugin's entry above). */
function checkLatin1(outfile) {
  // One character above U+00FF (esbuild leaves regular expressions as written) makes V8 hold
  // the whole source as a two-byte string: twice the memory for as long as the plugin runs.
  const text = readFileSync(outfile, 'utf8');
  const at = text.search(/[^\u0000-\u00ff]/u);
  if (at >= 0)
    throw new Error(
      `${outfile}: character ${JSON.stringify(text[at])} at offset ${at} (${JSON.stringify(text.slice(Math.max(0, at - 40), at + 10))}); escape it in the source`,
    );
}

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
  if (latin1Only) checkLatin1(outfile);
  chmodSync(outfile, 0o755);
  console.error(`built ${outfile}`);
}

if (!bundlesOnly) await buildExecutable();

/**
 * Writes a copy of the Node runtime without its static symbol table and debug sections (33 of
 * its 150 MB; none of them is loaded when it runs, and the 46,000 dynamic symbols that name
 * native frames in a diagnostic report stay). SPIRE hashes the whole file plugin_cmd names at
 * every start for plugin_checksum, so each MB costs every spire-agent and spire-server start
 * ~0.65 ms (bench/README.md, "Start → SVID").
 */
function stripRuntime(node, out) {
  try {
    execFileSync('objcopy', ['--strip-all', node, out], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (e) {
    if (e.code === 'ENOENT')
      throw new Error(
        'build.mjs: objcopy not found; install binutils (apt-get install binutils) and build again',
      );
    throw e;
  }
  // The copy must still be the same runtime (a broken objcopy would otherwise surface only when
  // the executable is run).
  const want = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  const got = execFileSync(out, ['--version'], { encoding: 'utf8' }).trim();
  if (got !== want) throw new Error(`build.mjs: the stripped runtime says ${got}, not ${want}`);
}

/**
 * dist/node-attestor: src/bin/multi.ts bundled as one ESM main, built into the pinned shipped
 * Node (tools/node-runtimes.json) with `node --build-sea`, with V8's code cache for the main
 * (the handshake comes ~25 ms sooner than from the .mjs). No start-up snapshot: grpc-js and
 * node:https load Node's http/http2 bindings, which V8 cannot snapshot (a full snapshot aborts).
 * The server plugin's heap flags are the executable's execArgv, so they apply to every program in
 * it: for the CLI and the agent plugin they cost no start-up on Node 26 and only bound their
 * memory; the approver runs with the same 128 MB heap cap (docs/development.md). NODE_OPTIONS is
 * ignored (execArgvExtension "none"): the file behaves the same whatever the environment of the
 * process that starts it. Links named after the other programs dispatch to them.
 */
async function buildExecutable() {
  const main = 'dist/sea/main.mjs';
  const exe = 'dist/node-attestor';
  const node = execFileSync('bash', ['tools/node-runtime.sh', 'shipped'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  await build({
    entryPoints: ['src/bin/multi.ts'],
    outfile: main,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    legalComments: 'none',
    banner: { js: REQUIRE_SHIM },
    // The whole source is held for the process's life, in every program (see the server entry).
    minifyWhitespace: true,
    logLevel: 'warning',
  });
  checkLatin1(main);
  const config = 'dist/sea/sea-config.json';
  const built = `${exe}.built-${process.pid}`;
  const copied = `${exe}.copied-${process.pid}`;
  const runtime = `${exe}.runtime-${process.pid}`;
  writeFileSync(
    config,
    `${JSON.stringify(
      {
        main,
        mainFormat: 'module',
        output: built,
        executable: runtime,
        disableExperimentalSEAWarning: true,
        useCodeCache: true,
        useSnapshot: false,
        execArgv: SERVER_PLUGIN_NODE_FLAGS,
        execArgvExtension: 'none',
      },
      null,
      2,
    )}\n`,
  );
  // No checksum file may outlive the executable it describes.
  rmSync(`${exe}.sha256`, { force: true });
  let sum;
  try {
    stripRuntime(node, runtime);
    execFileSync(node, ['--build-sea', config], { stdio: ['ignore', 'ignore', 'inherit'] });
    // Copied, not just renamed: the file Node writes in one large write sits in the page cache as
    // large folios, and a process mapping it then shows ~20 MB more resident code than the same
    // bytes copied (as an installed or image-layer file is): bench/README.md, "Shipping". Then
    // renamed into place, so dist/node-attestor is never half-written.
    copyFileSync(built, copied);
    chmodSync(copied, 0o755);
    sum = createHash('sha256').update(readFileSync(copied)).digest('hex');
    renameSync(copied, exe);
  } finally {
    rmSync(built, { force: true });
    rmSync(copied, { force: true });
    rmSync(runtime, { force: true });
  }
  for (const link of [
    'k8s-csr-agent-plugin',
    'k8s-csr-server-plugin',
    'k8s-pod-cert-agent-plugin',
    'k8s-pod-cert-server-plugin',
  ]) {
    const path = join('dist', link);
    rmSync(path, { force: true });
    symlinkSync('node-attestor', path);
  }
  // What SPIRE's plugin_checksum takes (SPIRE hashes the file plugin_cmd resolves to).
  writeFileSync(`${exe}.sha256`, `${sum}  node-attestor\n`);
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  console.error(`built ${exe} (Node ${version}, sha256 ${sum})`);
}

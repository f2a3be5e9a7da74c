// Bundles each executable into one self-contained ESM file with a shebang, so SPIRE's
// plugin_cmd can point straight at it and the CLI starts without resolving node_modules.
import { build } from 'esbuild';
import { chmodSync, existsSync } from 'node:fs';

const entries = [
  ['src/bin/node-attestor.ts', 'dist/node-attestor.mjs'],
  ['src/bin/agent-plugin.ts', 'dist/k8s-csr-agent-plugin.mjs'],
  ['src/bin/server-plugin.ts', 'dist/k8s-csr-server-plugin.mjs'],
].filter(([src]) => existsSync(src));

for (const [entry, outfile] of entries) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: 'linked',
    legalComments: 'none',
    // grpc-js and friends are CommonJS and call require(); give the ESM bundle one.
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __naCreateRequire } from 'node:module';\nconst require = __naCreateRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  chmodSync(outfile, 0o755);
  console.error(`built ${outfile}`);
}

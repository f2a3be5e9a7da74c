/**
 * The single executable as shipped (dist/node-attestor, built by `npm run build`): one file that
 * runs the CLI or either plugin by the name it is started as or by a first argument, whose
 * checksum file is what plugin_checksum takes, and that ignores NODE_OPTIONS.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../harness/bins.js';

const run = promisify(execFile);
const dist = (f: string): string => join(REPO_ROOT, 'dist', f);
const EXE = dist('node-attestor');

/** Starts `cmd` as spire-agent/spire-server start a plugin and returns its first stdout line. */
function handshakeLine(cmd: string, args: readonly string[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NodeAttestor: 'NodeAttestor', PLUGIN_PROTOCOL_VERSIONS: '1' },
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        child.kill('SIGKILL');
        resolve(out.slice(0, nl));
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (!out.includes('\n')) reject(new Error(`${cmd} exited ${String(code)} before a line: ${err}`));
    });
  });
}

const HANDSHAKE = /^1\|1\|unix\|\S+\|grpc\|?$/;

describe('the single executable', () => {
  it('is the CLI under its own name', async () => {
    const { stdout } = await run(EXE, ['--help']);
    assert.match(stdout, /^Usage: node-attestor \[flags\]/);
    const approver = await run(EXE, ['approver', '--help']);
    assert.match(approver.stdout, /^Usage: node-attestor approver /);
  });

  it('is each plugin through a link named after it', async () => {
    assert.match(await handshakeLine(dist('k8s-csr-agent-plugin')), HANDSHAKE);
    assert.match(await handshakeLine(dist('k8s-csr-server-plugin')), HANDSHAKE);
  });

  it('is a plugin when the first argument names it (plugin_args)', async () => {
    assert.match(await handshakeLine(EXE, ['k8s-csr-server-plugin']), HANDSHAKE);
  });

  it('refuses to run a plugin outside SPIRE, saying so', async () => {
    await assert.rejects(
      run(dist('k8s-csr-agent-plugin'), [], { env: { PATH: process.env.PATH ?? '' } }),
      (e: { code?: number; stderr?: string }) => {
        assert.equal(e.code, 1);
        assert.match(e.stderr ?? '', /SPIRE NodeAttestor plugin/);
        return true;
      },
    );
  });

  it('ignores NODE_OPTIONS (a preload that does not exist would stop Node)', async () => {
    const { stdout } = await run(EXE, ['--help'], {
      env: { ...process.env, NODE_OPTIONS: '--require=/nonexistent/preload.cjs' },
    });
    assert.match(stdout, /^Usage: node-attestor/);
  });

  it('comes with the sha256 plugin_checksum takes', () => {
    const sum = createHash('sha256').update(readFileSync(EXE)).digest('hex');
    assert.equal(readFileSync(`${EXE}.sha256`, 'utf8'), `${sum}  node-attestor\n`);
  });
});

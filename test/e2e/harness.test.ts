/**
 * The control-plane harness itself: it starts real components, several at once, fails fast
 * and clearly on bad input, and never leaves a process behind — not even when the process
 * that started it is SIGKILLed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { startControlPlane } from '../harness/control-plane.js';
import { REPO_ROOT } from '../harness/bins.js';
import { waitNoProcesses } from './support/ps.js';

async function expectStartFailure(
  opts: Parameters<typeof startControlPlane>[0],
  pattern: RegExp,
): Promise<string> {
  let message = '';
  await assert.rejects(startControlPlane(opts), (err: Error) => {
    message = err.message;
    assert.match(err.message, pattern);
    return true;
  });
  // A failed start keeps its logs for the user; the test has read them.
  const dir = /log (\/\S+)\/[\w-]+\.log/.exec(message)?.[1];
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  return message;
}

describe('control-plane harness', () => {
  it('runs two control planes at once and stops them without leftovers', async () => {
    const [a, b] = await Promise.all([startControlPlane(), startControlPlane()]);
    try {
      assert.notEqual(a.server, b.server);
      for (const cp of [a, b]) {
        const out = await cp.kubectl(['get', '--raw', '/readyz']);
        assert.equal(out.trim(), 'ok');
        assert.equal(cp.processes.length, 3);
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    assert.deepEqual(await waitNoProcesses(a.dir), []);
    assert.deepEqual(await waitNoProcesses(b.dir), []);
  });

  it('fails fast naming a missing binary', async () => {
    const saved = process.env.NODE_ATTESTOR_ETCD;
    process.env.NODE_ATTESTOR_ETCD = '/nonexistent/etcd';
    try {
      await expectStartFailure({}, /etcd binary not found at \/nonexistent\/etcd; run: npm run test-bins/);
    } finally {
      if (saved === undefined) delete process.env.NODE_ATTESTOR_ETCD;
      else process.env.NODE_ATTESTOR_ETCD = saved;
    }
  });

  it('fails fast on a taken port with the component, the reason and its log tail, leaving no process', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const addr = blocker.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    try {
      const msg = await expectStartFailure(
        { ports: { apiserver: port } },
        /kube-apiserver failed to start: it exited while waiting for \/readyz/,
      );
      assert.match(msg, /address already in use/);
      const dir = /log (\/\S+)\/kube-apiserver\.log/.exec(msg)?.[1];
      assert.ok(dir, msg);
      assert.deepEqual(await waitNoProcesses(dir), [], 'etcd was stopped after the apiserver failed');
    } finally {
      blocker.close();
    }
  });

  it('fails fast when a component exits during start, with the tail of its log', async () => {
    await expectStartFailure(
      { apiserverArgs: ['--no-such-flag=1'] },
      /kube-apiserver failed to start: it exited while waiting for \/readyz \(exited with code \d+\)[\s\S]*unknown flag: --no-such-flag/,
    );
  });

  it('leaves no process behind when the process that started it is SIGKILLed', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/e2e/support/hold-control-plane.ts'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const dir = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      child.once('exit', (code) => {
        reject(new Error(`holder exited early (${String(code)})`));
      });
    });
    const { processesMentioning } = await import('./support/ps.js');
    assert.equal(processesMentioning(dir).length, 3, 'etcd, kube-apiserver and kube-controller-manager run');
    child.kill('SIGKILL');
    assert.deepEqual(await waitNoProcesses(dir), []);
    rmSync(dir, { recursive: true, force: true });
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedProcess, startFailure } from '../../harness/processes.js';

describe('ManagedProcess without setpriv', () => {
  it('says that setpriv could not be run and where it comes from, instead of "exit 127" and an empty log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'na-proc-'));
    try {
      const p = new ManagedProcess({
        name: 'etcd',
        command: process.execPath,
        args: ['-e', '0'],
        logFile: join(dir, 'etcd.log'),
        env: { PATH: join(dir, 'no-such-dir') }, // the lookup of setpriv uses this PATH
      });
      await p.exited;
      assert.match(
        p.describeExit(),
        /^could not run setpriv \(util-linux; apt-get install util-linux\): spawn setpriv ENOENT$/,
      );
      assert.match(
        startFailure(p, 'exited').message,
        /^etcd failed to start: exited \(could not run setpriv/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ManagedProcess with signalChild', { skip: process.platform !== 'linux' }, () => {
  it('stops a command that ignores SIGTERM by signalling the program it forked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'na-proc-'));
    try {
      // Like unshare --fork / nsenter --pid: the command ignores SIGTERM and waits for its child;
      // the child (Node, whose handler overrides the inherited "ignore") runs until signalled.
      const child = `"${process.execPath}" -e 'process.on("SIGTERM", () => process.exit(0)); console.log("ready"); setInterval(() => {}, 1e6)'`;
      const p = new ManagedProcess({
        name: 'forker',
        command: 'bash',
        args: ['-c', `trap "" TERM; ${child}; echo child ended`],
        logFile: join(dir, 'forker.log'),
        signalChild: true,
      });
      const deadline = Date.now() + 10_000;
      // Until the child has its SIGTERM handler (before, it ignores SIGTERM like its parent).
      while (p.programPid === undefined || !p.tail().includes('ready')) {
        assert.ok(Date.now() < deadline, `the command's child was not ready within 10 s: ${p.tail()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const started = Date.now();
      await p.stop(30_000);
      assert.ok(
        Date.now() - started < 10_000,
        'stopped by SIGTERM to the child, not by the SIGKILL fallback',
      );
      assert.equal((await p.exited).code, 0);
      assert.match(p.tail(), /child ended/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

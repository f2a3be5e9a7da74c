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

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProgressReporter } from '../../../../src/cli/identity/progress.js';
import { createLogger } from '../../../../src/log/logger.js';

describe('progress', () => {
  it('off a terminal: one log line for pending and approved only', () => {
    const lines: string[] = [];
    const logger = createLogger({ format: 'text', level: 'info', write: (l) => lines.push(l) });
    const p = createProgressReporter(logger, { isTTY: false, write: () => assert.fail('no raw writes') });
    for (const phase of ['submitted', 'pending', 'pending', 'approved', 'issued'] as const)
      p.update({ phase, csrName: 'c1', elapsedMs: 1500 });
    p.stop();
    assert.deepEqual(lines, [
      'waiting for approval of CSR c1 (2s); an admin can run: kubectl certificate approve c1\n',
      'CSR c1 approved, waiting for the signer (2s)\n',
    ]);
  });

  it('on a terminal: rewrites one line in place and clears it at the end', () => {
    let out = '';
    const p = createProgressReporter(
      createLogger({ format: 'text', level: 'info', write: () => undefined }),
      {
        isTTY: true,
        write: (s) => (out += s),
        // A clock that stands still: the line shows exactly the elapsed time it was given.
        now: () => 0,
      },
    );
    p.update({ phase: 'pending', csrName: 'c2', elapsedMs: 0 });
    p.update({ phase: 'issued', csrName: 'c2', elapsedMs: 61_000 });
    p.stop();
    assert.equal(
      out,
      '\r\x1b[Kwaiting for approval of CSR c2 (0ms); an admin can run: kubectl certificate approve c2\r\x1b[KCSR c2 signed after 1m1s\r\x1b[K',
    );
  });
});

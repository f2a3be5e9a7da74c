/**
 * One exec plugin run (exec-run.ts) with real processes: interactiveMode against the terminal,
 * the timeout and cancellation (the plugin process is gone afterwards), and the cache around
 * runs (exec-credentials.ts) with a controlled clock.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isAttestorError } from '../../../src/errors.js';
import { parseExecConfig, type ExecConfig } from '../../../src/kube/exec-config.js';
import type { ExecResult } from '../../../src/kube/exec-credential.js';
import { execCredentials } from '../../../src/kube/exec-credentials.js';
import { runExecPlugin, type ExecRunOptions } from '../../../src/kube/exec-run.js';
import { Secret } from '../../../src/kube/secret.js';
import { writeExecPlugin, type ExecStep } from '../../support/exec-plugin.js';
import { tempDir } from './helpers.js';

const V1 = 'client.authentication.k8s.io/v1';

/** Resolves once process `pid` no longer exists. */
async function gone(pid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('runExecPlugin', () => {
  const dir = tempDir('kube-exec-run-');
  let n = 0;
  const plugin = (steps: ExecStep[], mode = 'Never') => {
    n++;
    const p = writeExecPlugin(dir, `plugin-${String(n)}`, steps);
    const cfg = parseExecConfig(
      { command: p.path, apiVersion: V1, interactiveMode: mode },
      join(dir, 'kubeconfig'),
      'u',
    );
    return { p, cfg };
  };

  it('interactiveMode decides spec.interactive from whether stdin is a terminal', async () => {
    const table: [string, boolean, boolean][] = [
      ['Never', true, false],
      ['IfAvailable', true, true],
      ['IfAvailable', false, false],
      ['Always', true, true],
    ];
    for (const [mode, terminal, interactive] of table) {
      const { p, cfg } = plugin([{ status: { token: 't' } }], mode);
      const r = await runExecPlugin(cfg, { stdinIsTerminal: terminal });
      assert.equal(r.token?.reveal(), 't');
      assert.equal(
        p.records()[0]?.info.spec.interactive,
        interactive,
        `${mode} with terminal=${String(terminal)}`,
      );
    }
  });

  it('interactiveMode Always without a terminal fails before running anything', async () => {
    const { p, cfg } = plugin([{ status: { token: 't' } }], 'Always');
    await assert.rejects(runExecPlugin(cfg, { stdinIsTerminal: false }), (err: unknown) => {
      assert.ok(isAttestorError(err, 'ERR_KUBE_CREDENTIALS'));
      assert.match(
        err.message,
        /^exec plugin ".*plugin-\d+" of kubeconfig user "u": it needs a terminal \(interactiveMode: Always\) but standard input is not a terminal; /,
      );
      return true;
    });
    assert.equal(p.runs(), 0);
  });

  it('stops a plugin that does not finish within the timeout', async () => {
    const { p, cfg } = plugin([{ hang: true }]);
    await assert.rejects(
      runExecPlugin(cfg, { timeoutMs: 300 }),
      (err: unknown) =>
        isAttestorError(err, 'ERR_KUBE_CREDENTIALS') &&
        err.message.endsWith(': it did not finish within 0.3s and was stopped'),
    );
    const pid = p.records()[0]?.pid;
    assert.ok(pid !== undefined);
    await gone(pid);
  });

  it('stops the plugin when the caller aborts (ERR_CANCELLED)', async () => {
    const { p, cfg } = plugin([{ hang: true }]);
    const ac = new AbortController();
    const run = runExecPlugin(cfg, { signal: ac.signal });
    while (p.records().length === 0) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    await assert.rejects(run, (err: unknown) => isAttestorError(err, 'ERR_CANCELLED'));
    await gone(p.records()[0]?.pid ?? 0);
  });
});

describe('exec credentials cache', () => {
  const cfg: ExecConfig = parseExecConfig(
    { command: 'fake', apiVersion: V1, interactiveMode: 'Never' },
    '/k',
    'u',
  );
  /** A run stub: each call takes the next result; `gate` holds runs until released. */
  const stub = (results: ExecResult[]) => {
    const calls: ExecRunOptions[] = [];
    let release: () => void = () => undefined;
    let gate = Promise.resolve();
    return {
      calls,
      hold: () => {
        gate = new Promise((r) => (release = r));
      },
      release: () => {
        release();
      },
      run: async (_: ExecConfig, o: ExecRunOptions): Promise<ExecResult> => {
        calls.push(o);
        const i = calls.length - 1;
        await Promise.race([
          gate,
          new Promise((_r, reject) =>
            o.signal?.addEventListener('abort', () => {
              reject(new Error('aborted'));
            }),
          ),
        ]);
        const r = results[Math.min(i, results.length - 1)];
        if (r === undefined) throw new Error('no result');
        return r;
      },
    };
  };
  const tok = (t: string, expiresAt?: number): ExecResult => ({
    token: new Secret(t),
    ...(expiresAt === undefined ? {} : { expiresAt }),
  });

  it('reuses a result until the clock passes expirationTimestamp (not before)', async () => {
    let now = 1000;
    const s = stub([tok('a', 2000), tok('b')]);
    const src = execCredentials(cfg, { now: () => now, run: s.run });
    assert.equal((await src.get()).token?.reveal(), 'a');
    now = 2000;
    assert.equal((await src.get()).token?.reveal(), 'a');
    now = 2001;
    assert.equal((await src.get()).token?.reveal(), 'b');
    assert.equal(s.calls.length, 2);
  });

  it('renew after a 401: runs again for the rejected result; a result refreshed meanwhile is used as is', async () => {
    const s = stub([tok('a'), tok('b'), tok('c')]);
    const src = execCredentials(cfg, { run: s.run });
    const a = await src.get();
    const b = await src.renew(a);
    assert.equal(b?.token?.reveal(), 'b');
    // A second request that also got a 401 with "a" sees "b" without another run.
    const again = await src.renew(a);
    assert.equal(again?.token?.reveal(), 'b');
    assert.equal(s.calls.length, 2);
    // A plugin that gives the same rejected token again: nothing to retry with.
    const same = execCredentials(cfg, { run: stub([tok('x')]).run });
    assert.equal(await same.renew(await same.get()), undefined);
  });

  it('one waiter giving up does not stop a run others wait for; the last one does', async () => {
    const s = stub([tok('a')]);
    s.hold();
    const src = execCredentials(cfg, { run: s.run });
    const first = new AbortController();
    const second = new AbortController();
    const p1 = src.get(first.signal);
    const p2 = src.get(second.signal);
    const runSignal = s.calls[0]?.signal;
    assert.ok(runSignal);
    first.abort();
    await assert.rejects(p1, (err: unknown) => isAttestorError(err, 'ERR_CANCELLED'));
    assert.equal(runSignal.aborted, false);
    second.abort();
    await assert.rejects(p2, (err: unknown) => isAttestorError(err, 'ERR_CANCELLED'));
    assert.equal(runSignal.aborted, true);
    assert.equal(s.calls.length, 1);
  });
});

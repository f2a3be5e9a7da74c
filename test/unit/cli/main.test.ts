/**
 * The whole command in-process against the fake API server: result line, JSON output, progress,
 * and each failure's exit code with nothing written.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AttestorError } from '../../../src/errors.js';
import { main } from '../../../src/cli/main.js';
import { startFakeApiServer, type ClientFiles, type FakeApiServer } from '../../support/fake-apiserver.js';

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], opts: { tty?: boolean; signal?: AbortSignal } = {}): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    stderrIsTTY: opts.tty ?? false,
    version: '9.9.9',
    ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
  });
  return { code, stdout, stderr };
}

describe('node-attestor main', () => {
  let dir: string;
  let api: FakeApiServer;
  let manualApi: FakeApiServer;
  let files: ClientFiles;
  let manualFiles: ClientFiles;
  const auth = (f: ClientFiles, a: FakeApiServer): string[] => [
    '-server',
    a.url,
    '-ca-cert',
    f.caCert,
    '-client-cert',
    f.clientCert,
    '-client-key',
    f.clientKey,
  ];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'na-cli-unit-'));
    api = await startFakeApiServer({ autoApprove: 'approve-and-sign' });
    manualApi = await startFakeApiServer({ autoApprove: 'off' });
    files = await api.writeClientFiles(join(dir, 'auto'));
    manualFiles = await manualApi.writeClientFiles(join(dir, 'manual'));
  });

  after(async () => {
    await api.close();
    await manualApi.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints help and version', async () => {
    const h = await cli(['-help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /^Usage: node-attestor \[flags\]/);
    assert.equal((await cli(['-version'])).stdout, 'node-attestor 9.9.9\n');
  });

  it('issues an identity and prints one result line, then reuses it', async () => {
    const idDir = join(dir, 'id-text');
    const r = await cli([...auth(files, api), '-agent-name', 'node-a', '-id-dir', idDir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^issued an identity for node node-a \(CSR node-csr-node-a-\w+\): .*id-doc\.crt and .*id-doc\.key, valid until \d{4}-/,
    );
    assert.equal(r.stdout.split('\n').length, 2);
    const again = await cli([
      ...auth(files, api),
      '-agent-name',
      'node-a',
      '-id-dir',
      idDir,
      '-output',
      'json',
    ]);
    assert.equal(again.code, 0);
    const j = JSON.parse(again.stdout) as { status: string; nodeName: string; csrName?: string };
    assert.equal(j.status, 'reused');
    assert.equal(j.csrName, undefined);
  });

  it('reports JSON with --output json, including errors', async () => {
    const ok = await cli([
      ...auth(files, api),
      '-agent-name',
      'node-j',
      '-id-dir',
      join(dir, 'id-json'),
      '--output=json',
    ]);
    const j = JSON.parse(ok.stdout) as Record<string, string>;
    assert.equal(j.status, 'issued');
    assert.match(j.csrName ?? '', /^node-csr-node-j-/);
    assert.ok(Date.parse(j.notAfter ?? '') > Date.now());
    const bad = await cli(['-agent-name', 'Nope!', '-output', 'json']);
    assert.equal(bad.code, 2);
    const e = JSON.parse(bad.stdout) as { status: string; code: string; exitCode: number; message: string };
    assert.deepEqual([e.status, e.code, e.exitCode], ['error', 'ERR_USAGE', 2]);
  });

  it('-wait poll issues an identity where the role grants only create and get, never watching', async () => {
    const narrow = await startFakeApiServer({
      autoApprove: 'approve-and-sign',
      authorize: ({ verb }) => verb === 'create' || verb === 'get',
    });
    try {
      const f = await narrow.writeClientFiles(join(dir, 'narrow'));
      const polled = await cli([
        ...auth(f, narrow),
        '-agent-name',
        'polled',
        '-id-dir',
        join(dir, 'id-poll'),
        '-wait',
        'poll',
      ]);
      assert.equal(polled.code, 0, polled.stderr);
      assert.match(polled.stdout, /^issued an identity for node polled /);
      assert.equal(narrow.requests.filter((r) => r.query.watch !== undefined).length, 0);
      assert.doesNotMatch(polled.stderr, /HTTP 403/);
      // The default (watch) is refused, falls back with one info line, and still succeeds.
      const fallback = await cli([
        ...auth(f, narrow),
        '-agent-name',
        'fallback',
        '-id-dir',
        join(dir, 'id-fallback'),
      ]);
      assert.equal(fallback.code, 0, fallback.stderr);
      assert.equal(
        fallback.stderr.match(/refused to watch the CSR \(HTTP 403\)/g)?.length,
        1,
        fallback.stderr,
      );
      assert.equal(narrow.requests.filter((r) => r.query.watch !== undefined).length, 1);
    } finally {
      await narrow.close();
    }
  });

  it('a usage error is one line on stderr that points to -help', async () => {
    const r = await cli(['-bogus']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'node-attestor: error: unknown flag -bogus (see node-attestor -help)\n');
    assert.equal(r.stdout, '');
  });

  it('shows a progress line on a terminal while waiting, and times out with exit 8, writing nothing', async () => {
    const idDir = join(dir, 'id-wait');
    const r = await cli(
      [...auth(manualFiles, manualApi), '-agent-name', 'waiter', '-id-dir', idDir, '-timeout', '1500ms'],
      { tty: true },
    );
    assert.equal(r.code, 8);
    // The terminal line is rewritten in place: carriage return + erase-line, then the text.
    const clearLine = '\r\u001b[K';
    assert.ok(r.stderr.includes(`${clearLine}waiting for approval of CSR node-csr-waiter-`), r.stderr);
    assert.match(
      r.stderr,
      /waiting for approval of CSR node-csr-waiter-\w+ \(\d+m?s\); an admin can run: kubectl certificate approve node-csr-waiter-/,
    );
    assert.match(
      r.stderr,
      /node-attestor: error: CSR node-csr-waiter-\w+ was not approved within \d+m?s; approve it with: kubectl certificate approve node-csr-waiter-/,
    );
    assert.equal(existsSync(join(idDir, 'id-doc.crt')), false);
  });

  it('exits 6 when denied, with the reason', async () => {
    const idDir = join(dir, 'id-denied');
    const running = cli([...auth(manualFiles, manualApi), '-agent-name', 'deny-me', '-id-dir', idDir]);
    let name: string | undefined;
    for (let i = 0; i < 100 && name === undefined; i++) {
      name = manualApi.csrNames().find((n) => n.startsWith('node-csr-deny-me-'));
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(name);
    manualApi.deny(name, 'NotThisNode', 'wrong node');
    const r = await running;
    assert.equal(r.code, 6);
    assert.match(r.stderr, /was denied: NotThisNode: wrong node/);
    assert.equal(existsSync(join(idDir, 'id-doc.key')), false);
  });

  it('exits 130 when interrupted while waiting, writing nothing', async () => {
    const ac = new AbortController();
    const idDir = join(dir, 'id-int');
    const running = cli([...auth(manualFiles, manualApi), '-agent-name', 'interrupted', '-id-dir', idDir], {
      signal: ac.signal,
    });
    setTimeout(() => {
      ac.abort(new AttestorError('ERR_CANCELLED', 'interrupted by SIGINT; nothing was written'));
    }, 300);
    const r = await running;
    assert.equal(r.code, 130);
    assert.match(r.stderr, /interrupted by SIGINT; nothing was written/);
    assert.equal(existsSync(join(idDir, 'id-doc.key')), false);
  });

  it('exits 3 for a missing file and 5 for an untrusted server', async () => {
    const missing = await cli([
      '-server',
      api.url,
      '-ca-cert',
      join(dir, 'nope.crt'),
      '-id-dir',
      join(dir, 'x'),
    ]);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /nope\.crt/);
    const untrusted = await cli([
      '-server',
      api.url,
      '-ca-cert',
      manualFiles.caCert,
      '-client-cert',
      files.clientCert,
      '-client-key',
      files.clientKey,
      '-id-dir',
      join(dir, 'y'),
    ]);
    assert.equal(untrusted.code, 5);
    assert.match(untrusted.stderr, /not trusted by -ca-cert/);
  });

  it('exits 9 with one line naming -id-dir when the identity directory is a symlink, before any CSR', async () => {
    const real = join(dir, 'real-id');
    mkdirSync(real, { mode: 0o700 });
    const link = join(dir, 'id-link');
    symlinkSync(real, link);
    const posts = (): number => api.requests.filter((r) => r.method === 'POST').length;
    const before = posts();
    const r = await cli([...auth(files, api), '-agent-name', 'node-l', '-id-dir', link, '-output', 'json']);
    assert.equal(r.code, 9);
    assert.equal(
      r.stderr,
      `node-attestor: error: identity directory ${link} is a symbolic link; refusing it, since whoever can change the link decides where the key goes: remove it, or give the real directory's path in -id-dir\n`,
    );
    const out = JSON.parse(r.stdout) as { code: string; exitCode: number };
    assert.deepEqual([out.code, out.exitCode], ['ERR_UNSAFE_DIR', 9]);
    assert.equal(posts(), before, 'no CSR created');
    assert.deepEqual(readdirSync(real), []);
  });
});

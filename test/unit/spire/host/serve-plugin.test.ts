/**
 * End to end through a real child process: the test echo plugin (test/support/echo-plugin.ts)
 * on servePlugin, driven by the fake SPIRE host with go-plugin's launch environment and SPIRE's
 * call sequence. Plugin processes are shared within each suite because starting one (tsx
 * compiling TypeScript) takes seconds on a busy machine.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect, type Settings } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus as S } from '../../../../src/gen/grpc/health/v1/health.js';
import { createLogger } from '../../../../src/log/logger.js';
import { GENERIC_INTERNAL_MESSAGE } from '../../../../src/spire/host/grpc-status.js';
import {
  MAX_CONCURRENT_STREAMS,
  makeSocketDir,
  servePlugin,
} from '../../../../src/spire/host/serve-plugin.js';
import { AttestorError } from '../../../../src/errors.js';
import type { ServerNodeAttestor } from '../../../../src/spire/host/types.js';
import { AGENT_HOST_SERVICES, FakeSpireHost, type LaunchOptions } from '../../../support/fake-spire-host.js';

const ECHO = 'test/support/echo-plugin.ts';
const launchOpts = (side: 'agent' | 'server'): LaunchOptions => ({
  command: process.execPath,
  args: ['--import', 'tsx', ECHO, side],
});

function runToExit(
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ECHO, 'server'], {
      env: { ...process.env, NodeAttestor: undefined, PLUGIN_PROTOCOL_VERSIONS: undefined, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

const code = (c: status) => (e: ServiceError) => {
  assert.equal(e.code, c, `${status[e.code]}: ${e.details}`);
  return true;
};

describe('servePlugin (server side) under a fake SPIRE host', () => {
  let host: FakeSpireHost;
  before(async () => {
    host = await FakeSpireHost.launch(launchOpts('server'));
  });
  after(async () => {
    await host.dispose();
  });

  it('prints only the handshake line, after binding an absolute unix socket', () => {
    assert.match(host.handshake.line, /^1\|1\|unix\|\/.+\/plugin\.sock\|grpc\|$/);
    assert.ok(host.handshake.address.length < 104);
    assert.ok(existsSync(host.handshake.address));
  });

  it('fails attestation with FailedPrecondition before Configure', async () => {
    await assert.rejects(host.attest(Buffer.from('early')), (e: ServiceError) => {
      assert.equal(e.code, status.FAILED_PRECONDITION);
      assert.equal(e.details, 'not configured');
      return true;
    });
  });

  it('loads like SPIRE: broker + ConnInfo, stdio, Init with exactly our names, Configure', async () => {
    const names = await host.load({
      trustDomain: 'example.org',
      hcl: 'challenges = 2\n\nclusters "a" {\n  ca_bundle_path = "/x"\n}',
    });
    assert.deepEqual(names, [
      'spire.plugin.server.nodeattestor.v1.NodeAttestor',
      'spire.service.common.config.v1.Config',
    ]);
    assert.equal(await host.health('plugin'), S.SERVING);
    assert.equal(await host.health(''), S.SERVING);
    await host.waitForLog((l) => l['@message'] === 'Host broker offered a connection');
  });

  it('attests with a challenge round trip', async () => {
    const r = await host.attest(Buffer.from('node-1'));
    assert.deepEqual(
      r.challenges.map((c) => c.toString()),
      ['nonce-0', 'nonce-1'],
    );
    assert.equal(r.attributes.spiffeId, 'spiffe://example.org/spire/agent/echo/node-1');
    assert.ok(r.attributes.selectorValues.includes('forwarded_host:agent.example'));
    assert.equal(r.attributes.canReattest, true);
  });

  it('answers bad configuration with InvalidArgument naming the key, keeping the old one', async () => {
    await assert.rejects(
      host.configure('example.org', 'clusters "a" {\n  ca_bundle_path = "/x"\n  ca_bundle_pth = "/y"\n}'),
      (e: ServiceError) => {
        assert.equal(e.code, status.INVALID_ARGUMENT);
        assert.match(e.details, /unknown key "ca_bundle_pth" in clusters\."a"/);
        return true;
      },
    );
    await assert.rejects(host.configure('example.org', 'challenges = "two"'), (e: ServiceError) => {
      assert.equal(e.code, status.INVALID_ARGUMENT);
      assert.match(e.details, /challenges: expected an integer/);
      return true;
    });
    assert.equal((await host.attest(Buffer.from('still'))).challenges.length, 2);
  });

  it('runs Configure concurrently with attestations', async () => {
    const reconfigure = host.configure('example.org', 'challenges = 1\nconfigure_delay = "400ms"');
    const during = await Promise.all([1, 2, 3, 4].map((i) => host.attest(Buffer.from(`during-${i}`))));
    for (const r of during) assert.equal(r.attributes.canReattest, true);
    await reconfigure;
    const afterwards = await host.attest(Buffer.from('after'));
    assert.equal(afterwards.challenges.length, 1);
    assert.ok(afterwards.attributes.selectorValues.includes('generation:2'));
  });

  it('survives failing, hanging, cancelled and malformed streams', async () => {
    await assert.rejects(host.attest(Buffer.from('fail:ERR_CHAIN')), code(status.PERMISSION_DENIED));
    await assert.rejects(host.attest(Buffer.from('fail:ERR_KUBE_API')), code(status.UNAVAILABLE));
    await assert.rejects(
      host.attest(Buffer.from('throw')),
      (e: ServiceError) => e.details === GENERIC_INTERNAL_MESSAGE,
    );
    await assert.rejects(
      host.attest(Buffer.from('x'), () => Buffer.from('wrong')),
      code(status.PERMISSION_DENIED),
    );
    const hanging = host.openAttest();
    hanging.send({ request: { $case: 'payload', payload: Buffer.from('hang') } });
    await host.waitForLog((l) => l['@message'] === 'echo: hanging until cancelled');
    const cancelled = (): number =>
      host.logs().filter((l) => l['@message'] === 'Attestation stream cancelled by the host').length;
    const before = cancelled();
    hanging.cancel();
    await host.waitForLog(() => cancelled() > before);
    const s = host.openAttest();
    s.send({ request: { $case: 'challengeResponse', challengeResponse: Buffer.from('?') } });
    await assert.rejects(s.recv(), code(status.INVALID_ARGUMENT));
    await host.attest(Buffer.from('reject-later'));
    await host.waitForLog((l) => l['@message'] === 'Unhandled promise rejection' && l['@level'] === 'error');
    assert.equal((await host.attest(Buffer.from('alive'))).attributes.spiffeId.endsWith('/alive'), true);
    const refused = host.logs().filter((l) => l['@message'] === 'Attestation refused');
    assert.ok(refused.length >= 5);
    for (const l of refused) {
      assert.ok(l['@level'] === 'warn' || l['@level'] === 'error');
      assert.match(String(l.code), /^ERR_/);
    }
  });

  it('keeps console output off stdout', async () => {
    await host.configure('example.org', 'print_to_stdout = true');
    await host.waitForLog(
      () => host.rawStderrLines().includes('console.log output that must not reach stdout'),
      5000,
    );
    assert.equal(host.stdoutAfterHandshake, '');
  });

  it('ignores SIGINT', async () => {
    host.signal('SIGINT');
    await host.waitForLog((l) => l['@message'].includes('Ignoring SIGINT'));
    assert.equal(await host.health('plugin'), S.SERVING);
    assert.equal(host.pid !== undefined && process.kill(host.pid, 0), true, 'still running');
  });

  it('writes only valid hclog JSON lines to stderr', () => {
    const logs = host.logs();
    assert.ok(logs.length > 10);
    for (const l of logs) {
      assert.equal(typeof l['@message'], 'string');
      assert.equal(typeof l['@level'], 'string');
      assert.match(l['@timestamp'] ?? '', /\.\d{6}Z$/);
      assert.equal(l['@module'], 'echo');
    }
    assert.deepEqual(host.rawStderrLines(), ['console.log output that must not reach stdout']);
  });

  it('unloads like SPIRE: Deinit, broker close, Shutdown, exit 0 within 2 s, socket removed', async () => {
    const r = await host.unload();
    assert.equal(r.graceful, true, `not exited within 2 s; stderr:\n${host.stderr}`);
    assert.equal(r.code, 0);
    assert.ok(r.ms < 2000);
    assert.equal(existsSync(dirname(host.handshake.address)), false);
    assert.equal(host.stdoutAfterHandshake, '');
    assert.equal(host.brokerStatus, status.OK);
  });
});

describe('servePlugin (agent side) under a fake SPIRE host', () => {
  let host: FakeSpireHost;
  before(async () => {
    host = await FakeSpireHost.launch(launchOpts('agent'));
  });
  after(async () => {
    await host.dispose();
  });

  it('refuses to attest before Configure, then loads with the agent names', async () => {
    await assert.rejects(host.aidAttestation(), code(status.FAILED_PRECONDITION));
    const names = await host.load({
      trustDomain: 'example.org',
      hcl: 'payload = "node-7"',
      hostServiceNames: AGENT_HOST_SERVICES,
    });
    assert.deepEqual(names, [
      'spire.plugin.agent.nodeattestor.v1.NodeAttestor',
      'spire.service.common.config.v1.Config',
    ]);
  });

  it('sends the payload first and answers challenges; the host cancel is quiet', async () => {
    const seen = host.logs().length;
    const r = await host.aidAttestation(() => [Buffer.from('n1'), Buffer.from('n2')]);
    assert.equal(r.payload.toString(), 'node-7');
    assert.deepEqual(
      r.responses.map((b) => b.toString()),
      ['echo:n1', 'echo:n2'],
    );
    // The plugin logs how the stream ended (a cancel may surface as a half-close first); only
    // after that line does "no warning" mean anything.
    const ends = ['AidAttestation stream closed by the host', 'AidAttestation ended by the host'];
    await host.waitForLog(() =>
      host
        .logs()
        .slice(seen)
        .some((l) => ends.includes(l['@message'])),
    );
    const lines = host.logs().slice(seen);
    assert.ok(!lines.some((l) => l['@level'] === 'warn' || l['@level'] === 'error'), JSON.stringify(lines));
  });

  it('maps an answer failure and keeps serving', async () => {
    await assert.rejects(
      host.aidAttestation(() => [Buffer.from('fail')]),
      code(status.PERMISSION_DENIED),
    );
    assert.equal((await host.aidAttestation()).payload.toString(), 'node-7');
  });

  it('stops gracefully on SIGTERM', async () => {
    host.signal('SIGTERM');
    const e = await host.exited;
    assert.equal(e.code, 0);
    assert.equal(existsSync(dirname(host.handshake.address)), false);
    assert.equal(host.stdoutAfterHandshake, '');
  });
});

describe('servePlugin launch checks', () => {
  it('exits 1 with a one-line explanation when the magic cookie is missing', async () => {
    const r = await runToExit({ PLUGIN_PROTOCOL_VERSIONS: '1' });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^node-attestor: this program is a SPIRE NodeAttestor plugin .*not meant to be run directly.*\n$/,
    );
  });

  it('exits 1 when the host does not offer protocol version 1', async () => {
    const r = await runToExit({ NodeAttestor: 'NodeAttestor', PLUGIN_PROTOCOL_VERSIONS: '2,3' });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /speaks version 1\n$/);
  });
});

describe('servePlugin socket placement', () => {
  const attestor: ServerNodeAttestor = {
    configure: () => Promise.resolve(),
    attest: () => Promise.reject(new Error('unused')),
  };
  const logger = createLogger({ format: 'hclog', level: 'error', write: () => undefined });

  it('honours PLUGIN_UNIX_SOCKET_DIR with a private directory, removed at stop', async () => {
    const base = mkdtempSync(join(tmpdir(), 'sockbase-'));
    try {
      const h = await servePlugin({
        side: 'server',
        attestor,
        logger,
        processMode: false,
        env: { PLUGIN_UNIX_SOCKET_DIR: base },
      });
      assert.equal(dirname(dirname(h.socketPath)), base);
      assert.equal(statSync(dirname(h.socketPath)).mode & 0o777, 0o700);
      await h.stop();
      assert.equal(existsSync(dirname(h.socketPath)), false);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('falls back to the temp directory when PLUGIN_UNIX_SOCKET_DIR cannot be used', async () => {
    const h = await servePlugin({
      side: 'server',
      attestor,
      logger,
      processMode: false,
      env: { PLUGIN_UNIX_SOCKET_DIR: '/nonexistent-na-socket-base' },
    });
    assert.equal(dirname(dirname(h.socketPath)), tmpdir());
    await h.stop();
  });

  it('names every directory it tried, and what to do, when none can hold the socket', () => {
    const base = mkdtempSync(join(tmpdir(), 'sockbase-'));
    try {
      const file = join(base, 'a-file');
      writeFileSync(file, '');
      assert.throws(
        () => makeSocketDir(['/nonexistent-na-socket-base', file, `/tmp/${'x'.repeat(120)}`]),
        (e: unknown) => {
          assert.ok(e instanceof AttestorError);
          assert.equal(e.code, 'ERR_IO');
          assert.equal(
            e.message,
            `cannot make the plugin's socket directory in /nonexistent-na-socket-base (ENOENT), ${file} (ENOTDIR), /tmp/${'x'.repeat(120)} (path too long): give the plugin a writable /tmp (an emptyDir where the root filesystem is read-only) or set PLUGIN_UNIX_SOCKET_DIR to a writable directory`,
          );
          return true;
        },
      );
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('refuses a side other than agent or server', async () => {
    await assert.rejects(
      servePlugin({ side: 'both' as 'server', attestor, logger, processMode: false }),
      /plugin side must be "agent" or "server", got "both"/,
    );
  });

  it('falls back to a short directory when the preferred one would make the path too long', async () => {
    const h = await servePlugin({
      side: 'server',
      attestor,
      logger,
      processMode: false,
      env: { PLUGIN_UNIX_SOCKET_DIR: `/tmp/${'x'.repeat(120)}` },
    });
    assert.ok(h.socketPath.length < 104, h.socketPath);
    await h.stop();
  });
});

describe('servePlugin HTTP/2 settings', () => {
  it('limits the streams the host may have open at once', async () => {
    const attestor: ServerNodeAttestor = {
      configure: () => Promise.resolve(),
      attest: () => Promise.reject(new Error('unused')),
    };
    const logger = createLogger({ format: 'hclog', level: 'error', write: () => undefined });
    const h = await servePlugin({ side: 'server', attestor, logger, processMode: false });
    const session = connect('http://localhost', { createConnection: () => netConnect(h.socketPath) });
    try {
      const settings = await new Promise<Settings>((resolve, reject) => {
        session.once('remoteSettings', resolve);
        session.once('error', reject);
      });
      assert.equal(settings.maxConcurrentStreams, MAX_CONCURRENT_STREAMS);
    } finally {
      session.destroy();
      await h.stop();
    }
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { checkHandshakeEnv, handshakeLine } from '../../../../src/spire/host/handshake.js';

describe('checkHandshakeEnv', () => {
  it('accepts what SPIRE sets', () => {
    assert.equal(
      checkHandshakeEnv({ NodeAttestor: 'NodeAttestor', PLUGIN_PROTOCOL_VERSIONS: '1' }),
      undefined,
    );
    assert.equal(
      checkHandshakeEnv({ NodeAttestor: 'NodeAttestor', PLUGIN_PROTOCOL_VERSIONS: '3, 1,2' }),
      undefined,
    );
  });

  it('explains a missing or wrong magic cookie in one line', () => {
    for (const env of [
      {},
      { NodeAttestor: 'KeyManager' },
      { KeyManager: 'KeyManager', PLUGIN_PROTOCOL_VERSIONS: '1' },
    ]) {
      const msg = checkHandshakeEnv(env);
      assert.match(msg ?? '', /SPIRE NodeAttestor plugin .* not meant to be run directly/);
      assert.doesNotMatch(msg ?? '', /\n/);
    }
  });

  it('refuses a host that does not offer protocol version 1', () => {
    assert.match(
      checkHandshakeEnv({ NodeAttestor: 'NodeAttestor', PLUGIN_PROTOCOL_VERSIONS: '2' }) ?? '',
      /version\(s\) "2".*speaks version 1/,
    );
    assert.match(checkHandshakeEnv({ NodeAttestor: 'NodeAttestor' }) ?? '', /PLUGIN_PROTOCOL_VERSIONS/);
  });
});

describe('handshakeLine', () => {
  it('is CORE|APP|unix|path|grpc| with an empty certificate field', () => {
    assert.equal(handshakeLine('/tmp/na-x/plugin.sock'), '1|1|unix|/tmp/na-x/plugin.sock|grpc|\n');
  });
});

describe('reserveStdout', () => {
  it('sends console output to stderr and leaves stdout to the handshake line alone', () => {
    const script = `
      import { reserveStdout } from './src/spire/host/handshake.ts';
      const write = reserveStdout();
      console.log('from console.log');
      console.info('from console.info');
      process.stdout.write('from stdout.write\\n');
      await write('1|1|unix|/x|grpc|\\n');
      console.log('after');
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '1|1|unix|/x|grpc|\n');
    assert.match(r.stderr, /from console\.log\nfrom console\.info\nfrom stdout\.write\n(.|\n)*after/);
  });
});

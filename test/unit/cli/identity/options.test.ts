import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { isAttestorError } from '../../../../src/errors.js';
import { parseCommandLine, type CliOptions } from '../../../../src/cli/identity/options.js';
import { CLI_ID_DIR } from '../../../../src/identity/defaults.js';

function run(args: string[]): CliOptions {
  const c = parseCommandLine(args);
  assert.equal(c.kind, 'run');
  return c.options;
}

function usageError(args: string[], pattern: RegExp): void {
  assert.throws(
    () => parseCommandLine(args),
    (err: unknown) => isAttestorError(err, 'ERR_USAGE') && pattern.test(err.message),
    `${args.join(' ')} should fail with ${String(pattern)}`,
  );
}

describe('parseCommandLine', () => {
  it('has the 2018 defaults', () => {
    const o = run([]);
    assert.equal(o.identity.idDir, CLI_ID_DIR);
    assert.equal(o.identity.idDir, '/tmp/spire-agent-id');
    assert.equal(o.identity.nodeName, hostname().trim().toLowerCase());
    assert.equal(o.identity.keyType, 'ecdsa-p256');
    assert.equal(o.identity.expirationSeconds, 3_600);
    assert.equal(o.identity.approvalTimeoutMs, 300_000);
    assert.equal(o.identity.force, false);
    assert.equal(o.output, 'text');
    assert.equal(o.inCluster, false);
    assert.equal(o.wait, 'watch');
  });

  it('takes -wait watch or poll, in both styles', () => {
    assert.equal(run(['-wait', 'poll']).wait, 'poll');
    assert.equal(run(['--wait=poll']).wait, 'poll');
    assert.equal(run(['-wait=watch']).wait, 'watch');
  });

  it("takes the tutorial's exact command line", () => {
    const o = run([
      '-ca-cert',
      '/home/u/.minikube/apiserver.crt',
      '-client-cert',
      'keys/node-attestor/spire-agent.crt',
      '-client-key',
      'keys/node-attestor/spire-agent.key',
    ]);
    assert.equal(o.caCert, '/home/u/.minikube/apiserver.crt');
    assert.equal(o.clientCert, 'keys/node-attestor/spire-agent.crt');
    assert.equal(o.clientKey, 'keys/node-attestor/spire-agent.key');
  });

  it('accepts Go and GNU styles alike', () => {
    const styles = [
      ['-kubeconfig', 'k', '-agent-name', 'n1', '-id-dir', 'd', '-force'],
      ['-kubeconfig=k', '-agent-name=n1', '-id-dir=d', '-force=true'],
      ['--kubeconfig', 'k', '--agent-name', 'n1', '--id-dir', 'd', '--force'],
      ['--kubeconfig=k', '--agent-name=n1', '--id-dir=d', '--force=1'],
    ];
    for (const s of styles) {
      const o = run(s);
      assert.deepEqual(
        [o.kubeconfig, o.identity.nodeName, o.identity.idDir, o.identity.force],
        ['k', 'n1', 'd', true],
        s.join(' '),
      );
    }
  });

  it('reads every option', () => {
    const o = run([
      '-context',
      'c',
      '-server',
      'https://x:6443',
      '-token-file',
      't',
      '-key-type',
      'rsa-3072',
      '-expiration',
      '2h',
      '-timeout',
      '90s',
      '-renew-before',
      '30m',
      '-output',
      'json',
      '-log-format',
      'json',
      '-log-level',
      'debug',
    ]);
    assert.deepEqual(
      [
        o.context,
        o.server,
        o.tokenFile,
        o.identity.keyType,
        o.identity.expirationSeconds,
        o.identity.approvalTimeoutMs,
        o.identity.renewBeforeMs,
        o.output,
        o.logFormat,
        o.logLevel,
      ],
      ['c', 'https://x:6443', 't', 'rsa-3072', 7_200, 90_000, 1_800_000, 'json', 'json', 'debug'],
    );
    assert.equal(run(['-in-cluster']).inCluster, true);
  });

  it('returns help and version', () => {
    for (const h of ['-h', '-help', '--help']) assert.equal(parseCommandLine([h]).kind, 'help');
    assert.equal(parseCommandLine(['-version']).kind, 'version');
  });

  it('refuses bad values, naming the flag', () => {
    usageError(['-agent-name', 'Bad_Name'], /-agent-name "Bad_Name" is not a valid node name/);
    usageError(['-agent-name=a/b'], /not a valid node name/);
    usageError(['-agent-name='], /-agent-name must not be empty|not a valid node name/);
    usageError(['-key-type', 'dsa'], /key-type/);
    usageError(['-expiration', '5m'], /-expiration must be at least 10m0s/);
    usageError(['-expiration', 'soon'], /-expiration "soon" is not a duration/);
    usageError(['-timeout', '0'], /-timeout must be at least/);
    usageError(['-timeout', '200h'], /-timeout must be at most 168h0m0s/);
    usageError(
      ['-renew-before', '2h'],
      /-renew-before \(2h0m0s\) must be shorter than -expiration \(1h0m0s\)/,
    );
    usageError(['-output', 'yaml'], /-output must be one of text, json/);
    usageError(['-wait', 'list'], /^-wait must be one of watch, poll, got "list"$/);
    usageError(['-wait', 'POLL'], /-wait must be one of watch, poll, got "POLL"/);
    usageError(['-wait='], /-wait/);
    usageError(['-wait'], /-wait/);
    usageError(['-log-level', 'loud'], /-log-level must be one of/);
    usageError(['-client-cert', 'c'], /-client-cert needs -client-key/);
    usageError(['-client-key', 'k'], /-client-key needs -client-cert/);
    usageError(['-in-cluster', '-kubeconfig', 'k'], /-in-cluster cannot be combined/);
    usageError(['-force=maybe'], /invalid boolean value "maybe" for -force/);
    usageError(
      ['-server', 'http://10.0.0.1:8080'],
      /^-server: server "http:\/\/10\.0\.0\.1:8080" must be an https:\/\/ URL/,
    );
    usageError(['-server', 'https://u:p@h'], /^-server: the server URL must not contain credentials$/);
    usageError(['-renew-before=-5m'], /^-renew-before must not be negative, got -5m$/);
    usageError(
      ['-renew-before', '-5m'],
      /^flag -renew-before needs a value, but "-5m" follows it; .* -renew-before=-5m$/,
    );
    usageError(['-no-such-flag'], /^unknown flag -no-such-flag$/);
    usageError(['extra'], /unexpected argument "extra"/);
    usageError(['-id-dir'], /^flag -id-dir needs a value$/);
    usageError(['-id-dir', '-force'], /^flag -id-dir needs a value, but "-force" follows it/);
    usageError(['-kubeconfig', ''], /-kubeconfig must not be empty/);
  });
});

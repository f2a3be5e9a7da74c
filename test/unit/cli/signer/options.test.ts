import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signerHelpText } from '../../../../src/cli/signer/help.js';
import {
  SIGNER_FLAGS,
  parseSignerCommandLine,
  type SignerOptions,
} from '../../../../src/cli/signer/options.js';
import { SIGNER_DEFAULTS } from '../../../../src/signer/settings.js';

const BASE = [
  '-allow-service-account',
  'spire:spire-agent',
  '-ca-cert-file',
  '/ca.crt',
  '-ca-key-file',
  '/ca.key',
];

function opts(args: string[]): SignerOptions {
  const c = parseSignerCommandLine(args);
  if (c.kind !== 'run') assert.fail(`expected options, got ${c.kind}`);
  return c.options;
}

describe('signer flags', () => {
  it('has documented defaults', () => {
    const o = opts(BASE);
    assert.equal(o.signerName, 'node-attestor.spiffe.io/spire-agent');
    assert.deepEqual(o.allowServiceAccounts, ['spire:spire-agent']);
    assert.deepEqual(o.requirePodLabels, {});
    assert.equal(o.maxExpirationMs, 24 * 3_600_000);
    assert.deepEqual(o.ca, { kind: 'files', certFile: '/ca.crt', keyFile: '/ca.key' });
    assert.equal(o.caPublishDelayMs, 3_600_000);
    assert.equal(o.caReloadMs, 30_000);
    assert.equal(o.workers, SIGNER_DEFAULTS.workers);
    assert.equal(o.leaderElect, true);
    assert.equal(o.leaseName, 'node-attestor-signer');
    assert.equal(o.leaseNamespace, 'spire');
    assert.equal(o.httpAddress, ':8080');
  });

  it('reads the CA Secret, labels, several service accounts and the shared controller flags', () => {
    const o = opts([
      '-allow-service-account=spire:spire-agent',
      '--allow-service-account',
      'other-ns:agent',
      '-ca-secret',
      'spire/node-attestor-signer-ca',
      '-require-pod-label',
      'app=spire-agent',
      '-require-pod-label=tier=node',
      '-signer-name',
      'example.com/agents',
      '-max-expiration',
      '2h',
      '-refresh-after',
      '10m',
      '-ca-publish-delay',
      '0s',
      '-leader-elect=false',
      '-workers',
      '16',
    ]);
    assert.deepEqual(o.allowServiceAccounts, ['spire:spire-agent', 'other-ns:agent']);
    assert.deepEqual(o.ca, { kind: 'secret', namespace: 'spire', name: 'node-attestor-signer-ca' });
    assert.deepEqual(o.requirePodLabels, { app: 'spire-agent', tier: 'node' });
    assert.equal(o.signerName, 'example.com/agents');
    assert.equal(o.maxExpirationMs, 2 * 3_600_000);
    assert.equal(o.refreshAfterMs, 600_000);
    assert.equal(o.caPublishDelayMs, 0);
    assert.equal(o.leaderElect, false);
    assert.equal(o.workers, 16);
  });

  it('refuses bad flags with one-line ERR_USAGE messages', () => {
    const cases: [string[], RegExp][] = [
      [['-ca-secret', 'spire/ca'], /give at least one -allow-service-account/],
      [['-allow-service-account', 'spire-agent', '-ca-secret', 'spire/ca'], /is not namespace:name/],
      [['-allow-service-account', 'Bad:x', '-ca-secret', 'spire/ca'], /is not a valid namespace name/],
      [
        ['-allow-service-account', 'spire:spire-agent'],
        /give the CA: -ca-cert-file and -ca-key-file, or -ca-secret/,
      ],
      [[...BASE.slice(0, 4)], /give the CA/],
      [[...BASE, '-ca-secret', 'spire/ca'], /not both/],
      [['-allow-service-account', 'spire:a', '-ca-secret', 'ca'], /-ca-secret "ca" is not namespace\/name/],
      [[...BASE, '-signer-name', 'nodomain'], /is not a signer name/],
      [[...BASE, '-signer-name', 'kubernetes.io/x'], /reserved for Kubernetes/],
      [[...BASE, '-require-pod-label', 'app'], /is not key=value/],
      [[...BASE, '-max-expiration', '30m'], /-max-expiration must be at least 1h0m0s/],
      [[...BASE, '-max-expiration', '2200h'], /-max-expiration must be at most/],
      [[...BASE, '-refresh-after', '5m'], /-refresh-after must be at least 10m0s/],
      [[...BASE, '-ca-reload-interval', '10ms'], /-ca-reload-interval must be at least 1s/],
      [[...BASE, '-workers', '0'], /-workers must be a whole number from 1 to 64/],
      [[...BASE, '-lease-duration', '10s'], /must be longer than -renew-deadline/],
    ];
    for (const [args, re] of cases)
      assert.throws(
        () => parseSignerCommandLine(args),
        (e: { code: string; message: string }) => {
          assert.equal(e.code, 'ERR_USAGE', e.message);
          assert.match(e.message, re);
          assert.ok(!e.message.includes('\n'), 'one line');
          return true;
        },
        args.join(' '),
      );
  });

  it('help lists every flag with its default', () => {
    const text = signerHelpText();
    for (const f of SIGNER_FLAGS) assert.ok(text.includes(`-${f.name}`), f.name);
    assert.match(text, /\(default: node-attestor\.spiffe\.io\/spire-agent\)/);
    assert.match(text, /Docs: docs\/pod-certificates\.md/);
  });
});

import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { approverHelpText } from '../../../../src/cli/approver/help.js';
import { APPROVER_DEFAULTS as DEFAULTS } from '../../../../src/approver/settings.js';
import {
  APPROVER_FLAGS,
  parseApproverCommandLine,
  type ApproverOptions,
} from '../../../../src/cli/approver/options.js';

const REQ = ['-allow-requester', 'system:serviceaccount:spire:spire-agent'];

function opts(args: string[]): ApproverOptions {
  const c = parseApproverCommandLine(args);
  if (c.kind !== 'run') assert.fail(`expected options, got ${c.kind}`);
  return c.options;
}

describe('approver flags', () => {
  it('has documented defaults', () => {
    const o = opts(REQ);
    assert.deepEqual(o.allowRequesters, ['system:serviceaccount:spire:spire-agent']);
    assert.equal(o.inCluster, false);
    assert.equal(o.allowNodeBoundTokens, false);
    assert.equal(o.podLookup, true);
    assert.equal(o.maxExpirationMs, 4 * 3_600_000);
    assert.equal(o.recordEvents, true);
    assert.equal(o.leaderElect, true);
    assert.equal(o.workers, DEFAULTS.workers);
    assert.equal(o.leaseName, 'node-attestor-approver');
    assert.equal(o.leaseNamespace, 'spire');
    assert.match(o.leaderIdentity, new RegExp(`^${hostname().replaceAll('.', '\\.')}_[0-9a-f]{8}$`));
    assert.notEqual(opts(REQ).leaderIdentity, o.leaderIdentity, 'unique per process');
    assert.equal(o.leaseDurationMs, 15_000);
    assert.equal(o.renewDeadlineMs, 10_000);
    assert.equal(o.retryPeriodMs, 2_000);
    assert.equal(o.httpAddress, ':8080');
    assert.equal(o.logFormat, 'text');
    assert.equal(o.logLevel, 'info');
  });

  it('takes Go-style and GNU-style flags, repeated requesters, and Go booleans (default-true ones too)', () => {
    const o = opts([
      '-allow-requester=a',
      '--allow-requester',
      'b',
      '--allow-requester= c ',
      '-pod-lookup=false',
      '--leader-elect=0',
      '-record-events=f',
      '-allow-node-bound-tokens',
      '-in-cluster=true',
      '-workers',
      '8',
      '-lease-name=my-lease',
      '--lease-namespace',
      'kube-system',
      '-leader-identity',
      'pod-1',
      '-lease-duration=30s',
      '-renew-deadline=20s',
      '-retry-period=500ms',
      '-http-address=127.0.0.1:0',
      '--max-expiration',
      '90m',
      '-log-format=json',
      '-log-level',
      'debug',
      '-token-file',
      '/t',
      '-ca-cert',
      '/ca',
    ]);
    assert.deepEqual(o.allowRequesters, ['a', 'b', 'c']);
    assert.equal(o.podLookup, false);
    assert.equal(o.leaderElect, false);
    assert.equal(o.recordEvents, false);
    assert.equal(o.allowNodeBoundTokens, true);
    assert.equal(o.inCluster, true);
    assert.equal(o.workers, 8);
    assert.equal(o.leaseName, 'my-lease');
    assert.equal(o.leaseNamespace, 'kube-system');
    assert.equal(o.leaderIdentity, 'pod-1');
    assert.equal(o.leaseDurationMs, 30_000);
    assert.equal(o.renewDeadlineMs, 20_000);
    assert.equal(o.retryPeriodMs, 500);
    assert.equal(o.httpAddress, '127.0.0.1:0');
    assert.equal(o.maxExpirationMs, 90 * 60_000);
    assert.equal(o.logFormat, 'json');
    assert.equal(o.logLevel, 'debug');
    assert.equal(o.tokenFile, '/t');
    assert.equal(o.caCert, '/ca');
    const k = opts([
      ...REQ,
      '-kubeconfig',
      '/k',
      '-context',
      'c',
      '-server',
      'https://x',
      '-client-cert',
      '/c',
      '-client-key',
      '/k2',
    ]);
    assert.equal(k.kubeconfig, '/k');
    assert.equal(k.context, 'c');
    assert.equal(k.server, 'https://x');
    assert.equal(k.clientCert, '/c');
    assert.equal(k.clientKey, '/k2');
  });

  it('asks for help', () => {
    for (const a of [['-help'], ['--help'], ['-h'], [...REQ, '-help=true']])
      assert.deepEqual(parseApproverCommandLine(a), { kind: 'help' });
  });

  it('refuses bad flags with one-line ERR_USAGE messages', () => {
    const cases: [string[], RegExp][] = [
      [[], /give at least one -allow-requester/],
      [['-allow-requester', ' '], /-allow-requester must not be empty/],
      [[...REQ, '-nope'], /^unknown flag -nope$/],
      [[...REQ, 'extra'], /unexpected argument "extra"/],
      [[...REQ, '-pod-lookup=maybe'], /invalid boolean value "maybe" for -pod-lookup/],
      [[...REQ, '-workers', '0'], /-workers must be a whole number from 1 to 64/],
      [[...REQ, '-workers', '2.5'], /-workers/],
      [[...REQ, '-workers', '65'], /-workers/],
      [[...REQ, '-client-cert', '/c'], /-client-cert needs -client-key/],
      [[...REQ, '-client-key', '/k'], /-client-key needs -client-cert/],
      [[...REQ, '-in-cluster', '-server', 'https://x'], /-in-cluster cannot be combined/],
      [[...REQ, '-lease-name', 'Bad_Name'], /-lease-name "Bad_Name" is not a valid object name/],
      [[...REQ, '-lease-namespace', 'a.b'], /-lease-namespace "a\.b" is not a valid namespace name/],
      [[...REQ, '-lease-duration', 'soon'], /-lease-duration "soon" is not a duration/],
      [[...REQ, '-retry-period', '10ms'], /-retry-period must be at least 100ms/],
      [[...REQ, '-lease-duration', '2h'], /at most 1h0m0s/],
      [
        [...REQ, '-lease-duration', '10s'],
        /-lease-duration \(10s\) must be longer than -renew-deadline \(10s\)/,
      ],
      [[...REQ, '-retry-period', '10s'], /-renew-deadline \(10s\) must be longer than -retry-period \(10s\)/],
      [[...REQ, '-http-address', '8080'], /-http-address "8080" is not host:port/],
      [[...REQ, '-log-format', 'xml'], /-log-format must be one of text, json/],
      [[...REQ, '-kubeconfig', ''], /-kubeconfig must not be empty/],
      [[...REQ, '-max-expiration', 'a day'], /-max-expiration "a day" is not a duration/],
      [[...REQ, '-max-expiration', '5m'], /-max-expiration must be at least 10m0s, got 5m/],
      [[...REQ, '-max-expiration', '1000000h'], /-max-expiration must be at most /],
      [[...REQ, '-max-expiration', '-1h'], /-max-expiration/],
    ];
    for (const [args, re] of cases)
      assert.throws(
        () => parseApproverCommandLine(args),
        (e: { code: string; message: string }) => {
          assert.equal(e.code, 'ERR_USAGE');
          assert.match(e.message, re);
          assert.ok(!e.message.includes('\n'), 'one line');
          return true;
        },
        args.join(' '),
      );
  });

  it('--help lists every flag with its default', () => {
    const text = approverHelpText();
    const flat = text.replaceAll(/\n {8}/g, ' ');
    for (const f of APPROVER_FLAGS) {
      assert.match(text, new RegExp(`\\n  -${f.name}\\b`), f.name);
      if (f.shownDefault !== undefined)
        assert.ok(flat.includes(`(default: ${f.shownDefault})`), `${f.name} default`);
    }
    for (const line of text.split('\n')) assert.ok(line.length <= 110, `help line too long: ${line}`);
    assert.match(text, /Exit codes:/);
  });
});

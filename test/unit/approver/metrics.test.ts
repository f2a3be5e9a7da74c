import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { ERROR_KINDS, createApproverMetrics, type ApproverMetrics } from '../../../src/approver/metrics.js';
import { parsePrometheusText, sampleValue } from '../../support/prometheus-text.js';

/**
 * /metrics as the hand-written registry rendered it (commit 3542e39, before prom-client), at
 * start and after `exercise` below. The move to prom-client must not change what a scraper sees.
 */
const before = (which: 'zero' | 'used'): string =>
  readFileSync(new URL(`fixtures/metrics-before-${which}.prom`, import.meta.url), 'utf8');

/** The same calls the fixture was rendered after (including a label value that needs escaping). */
function exercise(m: ApproverMetrics): void {
  for (let i = 0; i < 3; i++) m.approved.inc();
  m.denied.inc({ reason: 'NodeMismatch' });
  m.denied.inc({ reason: 'NodeMismatch' });
  m.denied.inc({ reason: 'NoNodeBinding' });
  m.denied.inc({ reason: 'odd "quoted" \\ reason\nline' });
  m.ignored.inc({ reason: 'requester_not_allowed' });
  m.conflicts.inc();
  m.errors.inc({ kind: 'watch' });
  m.errors.inc({ kind: 'watch' });
  m.errors.inc({ kind: 'lease' });
  for (const v of [0, 0.05, 0.07, 0.1, 0.3, 1, 2.5, 4, 12, 31, 299.5, 300, 301, 1234.5])
    m.latency.observe({ decision: 'approved' }, v);
  for (const v of [0.2, 0.2, 7]) m.latency.observe({ decision: 'denied' }, v);
  m.leader.set(1);
  m.synced.set(1);
}

const FAMILIES = [
  ['node_attestor_approver_csrs_approved_total', 'counter'],
  ['node_attestor_approver_csrs_denied_total', 'counter'],
  ['node_attestor_approver_csrs_ignored_total', 'counter'],
  ['node_attestor_approver_approval_conflicts_total', 'counter'],
  ['node_attestor_approver_errors_total', 'counter'],
  ['node_attestor_approver_decision_latency_seconds', 'histogram'],
  ['node_attestor_approver_leader', 'gauge'],
  ['node_attestor_approver_informer_synced', 'gauge'],
];

/** The second reader's view, without what it gets wrong (labelled histogram series). */
const secondReading = (text: string): unknown =>
  parsePrometheusTextFormat(text).map((f: ParsedFamily) => ({
    name: f.name,
    help: f.help,
    type: f.type,
    metrics: f.type === 'HISTOGRAM' ? 'not read' : f.metrics,
  }));

describe("the approver's metrics on prom-client", () => {
  it('expose at start exactly what the hand-written registry did: families, types, help, series, zeros', async () => {
    const m = await createApproverMetrics();
    const text = await m.registry.metrics();
    assert.deepEqual(parsePrometheusText(text), parsePrometheusText(before('zero')));
    assert.deepEqual(secondReading(text), secondReading(before('zero')));
    assert.deepEqual(
      parsePrometheusText(text).map((f) => [f.name, f.type]),
      FAMILIES,
      'only the approver families: no default process metrics',
    );
    for (const kind of ERROR_KINDS)
      assert.equal(sampleValue(text, 'node_attestor_approver_errors_total', { kind }), 0, kind);
  });

  it('expose the same values as before after the same events, escaping label values', async () => {
    const m = await createApproverMetrics();
    exercise(m);
    const text = await m.registry.metrics();
    assert.deepEqual(parsePrometheusText(text), parsePrometheusText(before('used')));
    assert.deepEqual(secondReading(text), secondReading(before('used')));
    const p = 'node_attestor_approver_';
    assert.equal(sampleValue(text, `${p}csrs_denied_total`, { reason: 'odd "quoted" \\ reason\nline' }), 1);
    assert.equal(
      sampleValue(text, `${p}decision_latency_seconds_bucket`, { decision: 'approved', le: '300' }),
      12,
    );
    assert.equal(sampleValue(text, `${p}decision_latency_seconds_count`, { decision: 'approved' }), 14);
    assert.equal(sampleValue(text, `${p}decision_latency_seconds_sum`, { decision: 'denied' }), 7.4);
    // Byte for byte, prom-client differs only where the format says nothing: an empty line
    // between families, and `le` written first in bucket labels (labels are a set).
    const normalized = (t: string): string =>
      t
        .replaceAll('\n\n', '\n')
        .replace(/\{([^}]*)\}/g, (_, inner: string) => `{${inner.split(',').sort().join(',')}}`);
    assert.equal(normalized(text), normalized(before('used')));
    assert.notEqual(text, before('used'));
  });

  it('each call makes its own registry (a second approver in one process shares nothing)', async () => {
    const a = await createApproverMetrics();
    const b = await createApproverMetrics();
    a.approved.inc();
    assert.equal(sampleValue(await b.registry.metrics(), 'node_attestor_approver_csrs_approved_total'), 0);
  });
});

describe('the strict Prometheus text reader used by the tests', () => {
  it('reads escapes, timestamps and special values', () => {
    const f = parsePrometheusText(
      [
        '# HELP a_total Line one\\nline \\\\ two',
        '# TYPE a_total counter',
        'a_total{x="q\\"\\\\\\n",y="2",} 3 1700000000000',
        'b +Inf',
        'c NaN',
        '',
      ].join('\n'),
    );
    const [a, b, c] = f;
    assert.ok(a !== undefined && b !== undefined && c !== undefined);
    assert.equal(a.help, 'Line one\nline \\ two');
    assert.deepEqual(a.samples, [{ name: 'a_total', labels: { x: 'q"\\\n', y: '2' }, value: 3 }]);
    assert.equal(b.type, 'untyped');
    assert.equal(b.samples[0]?.value, Infinity);
    assert.ok(Number.isNaN(c.samples[0]?.value));
  });

  it('refuses what the format does not allow', () => {
    const hist = (bucket: string, count: string): string =>
      `# TYPE h histogram\nh_bucket{le="1"} ${bucket}\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count ${count}\n`;
    for (const [text, why] of [
      ['garbage line here\n', /invalid value/],
      ['a 1', /newline/],
      ['a{x="1} 1\n', /unterminated/],
      ['a{x="\\t"} 1\n', /invalid escape/],
      ['a{1x="1"} 1\n', /invalid label name/],
      ['# TYPE a countr\n', /unknown type/],
      ['a 1\nb 1\na 2\n', /not contiguous/],
      [hist('3', '2'), /not cumulative/],
      [hist('1', '3'), /_count differs/],
    ] as const)
      assert.throws(() => parsePrometheusText(text), why, JSON.stringify(text));
  });
});

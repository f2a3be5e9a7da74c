import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  createApproverMetrics,
  formatValue,
} from '../../../src/approver/metrics.js';

describe('Prometheus text exposition', () => {
  it('renders counters, gauges and histograms with HELP/TYPE and escaped labels', () => {
    const r = new Registry();
    const c = r.register(
      new Counter('x_total', 'Things.\nWith a newline \\ and backslash.', [{ kind: 'a' }]),
    );
    c.inc({ kind: 'a' });
    c.inc({ kind: 'b"q\\\n' }, 2);
    const g = r.register(new Gauge('up', 'Up.'));
    g.set(1);
    const h = r.register(new Histogram('lat_seconds', 'Latency.', [1, 0.1]));
    h.observe(0.05, { d: 'x' });
    h.observe(0.5, { d: 'x' });
    h.observe(7, { d: 'x' });
    assert.equal(
      r.render(),
      [
        '# HELP x_total Things.\\nWith a newline \\\\ and backslash.',
        '# TYPE x_total counter',
        'x_total{kind="a"} 1',
        'x_total{kind="b\\"q\\\\\\n"} 2',
        '# HELP up Up.',
        '# TYPE up gauge',
        'up 1',
        '# HELP lat_seconds Latency.',
        '# TYPE lat_seconds histogram',
        'lat_seconds_bucket{d="x",le="0.1"} 1',
        'lat_seconds_bucket{d="x",le="1"} 2',
        'lat_seconds_bucket{d="x",le="+Inf"} 3',
        'lat_seconds_sum{d="x"} 7.55',
        'lat_seconds_count{d="x"} 3',
        '',
      ].join('\n'),
    );
    assert.equal(c.value({ kind: 'a' }), 1);
    assert.equal(c.value({ kind: 'zzz' }), 0);
    assert.equal(g.value, 1);
    assert.equal(h.count({ d: 'x' }), 3);
    assert.equal(h.count({ d: 'y' }), 0);
    assert.throws(() => {
      c.inc({}, -1);
    }, /only goes up/);
    assert.throws(() => new Gauge('bad name', ''), /invalid metric name/);
  });

  it('formats special values', () => {
    assert.equal(formatValue(Infinity), '+Inf');
    assert.equal(formatValue(-Infinity), '-Inf');
    assert.equal(formatValue(Number.NaN), 'NaN');
    assert.equal(formatValue(0.25), '0.25');
  });

  it("the approver's metrics start at zero so dashboards see every series", () => {
    const m = createApproverMetrics();
    const text = m.registry.render();
    for (const line of [
      'node_attestor_approver_csrs_approved_total 0',
      'node_attestor_approver_csrs_ignored_total{reason="requester_not_allowed"} 0',
      'node_attestor_approver_approval_conflicts_total 0',
      'node_attestor_approver_errors_total{kind="lookup"} 0',
      'node_attestor_approver_errors_total{kind="event"} 0',
      'node_attestor_approver_decision_latency_seconds_count{decision="approved"} 0',
      'node_attestor_approver_decision_latency_seconds_bucket{decision="denied",le="0.05"} 0',
      'node_attestor_approver_leader 0',
      'node_attestor_approver_informer_synced 0',
      '# TYPE node_attestor_approver_csrs_denied_total counter',
    ])
      assert.ok(text.split('\n').includes(line), line);
  });
});

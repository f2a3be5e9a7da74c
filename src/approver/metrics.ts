/**
 * The approver's metrics, on prom-client (the Node convention for a long-running service; the
 * shared plumbing, loaded only when the approver starts, is ../controller/metrics.ts). /metrics
 * shows exactly the families below (docs/approver.md).
 */
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  informerSyncedGauge,
  leaderGauge,
  openMetricFamilies,
  retriedErrorsCounter,
} from '../controller/metrics.js';

/** The approver's metrics; names are part of its interface (docs/approver.md). */
export interface ApproverMetrics {
  readonly registry: Registry;
  readonly approved: Counter;
  readonly denied: Counter<'reason'>;
  readonly ignored: Counter<'reason'>;
  readonly conflicts: Counter;
  readonly errors: Counter<'kind'>;
  readonly latency: Histogram<'decision'>;
  readonly leader: Gauge;
  readonly synced: Gauge;
}

export const ERROR_KINDS = ['list', 'watch', 'parse', 'lookup', 'approval', 'lease', 'event'] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export async function createApproverMetrics(): Promise<ApproverMetrics> {
  // Made in exposition order.
  const f = await openMetricFamilies('node_attestor_approver_');
  const m: ApproverMetrics = {
    registry: f.registry,
    approved: f.counter('csrs_approved_total', 'CSRs this replica approved.'),
    denied: f.counter('csrs_denied_total', 'CSRs this replica denied, by the reason written on the CSR.', [
      'reason',
    ]),
    ignored: f.counter(
      'csrs_ignored_total',
      'Pending node-client CSRs left alone (requester not in the allow-list), counted once per CSR.',
      ['reason'],
    ),
    conflicts: f.counter(
      'approval_conflicts_total',
      'Approval writes refused with 409 because someone else changed the CSR first.',
    ),
    errors: retriedErrorsCounter(f, ERROR_KINDS),
    latency: f.latency(
      'decision_latency_seconds',
      'From the CSR creationTimestamp (whole seconds) to our decision being written.',
      ['decision'],
    ),
    leader: leaderGauge(f),
    synced: informerSyncedGauge(f, 'CSR'),
  };
  // Every known series starts at zero, so dashboards and alerts see it before the first event.
  m.ignored.inc({ reason: 'requester_not_allowed' }, 0);
  m.latency.zero({ decision: 'approved' });
  m.latency.zero({ decision: 'denied' });
  return m;
}

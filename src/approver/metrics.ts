/**
 * The approver's metrics, on prom-client (the Node convention for a long-running service).
 * prom-client is imported only when the approver starts, so the other node-attestor commands,
 * which share its bundle, never pay its ~40 ms load (docs/development.md). A private registry
 * and no default process metrics: /metrics shows exactly the families below (docs/approver.md).
 */
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';

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

const PREFIX = 'node_attestor_approver_';
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export async function createApproverMetrics(): Promise<ApproverMetrics> {
  const prom = await import('prom-client');
  const registry = new prom.Registry();
  const registers = [registry];
  const m: ApproverMetrics = {
    registry,
    approved: new prom.Counter({
      name: `${PREFIX}csrs_approved_total`,
      help: 'CSRs this replica approved.',
      registers,
    }),
    denied: new prom.Counter({
      name: `${PREFIX}csrs_denied_total`,
      help: 'CSRs this replica denied, by the reason written on the CSR.',
      labelNames: ['reason'],
      registers,
    }),
    ignored: new prom.Counter({
      name: `${PREFIX}csrs_ignored_total`,
      help: 'Pending node-client CSRs left alone (requester not in the allow-list), counted once per CSR.',
      labelNames: ['reason'],
      registers,
    }),
    conflicts: new prom.Counter({
      name: `${PREFIX}approval_conflicts_total`,
      help: 'Approval writes refused with 409 because someone else changed the CSR first.',
      registers,
    }),
    errors: new prom.Counter({
      name: `${PREFIX}errors_total`,
      help: 'Failures that were retried, by kind.',
      labelNames: ['kind'],
      registers,
    }),
    latency: new prom.Histogram({
      name: `${PREFIX}decision_latency_seconds`,
      help: 'From the CSR creationTimestamp (whole seconds) to our decision being written.',
      labelNames: ['decision'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    leader: new prom.Gauge({
      name: `${PREFIX}leader`,
      help: '1 while this replica holds the leader Lease, else 0.',
      registers,
    }),
    synced: new prom.Gauge({
      name: `${PREFIX}informer_synced`,
      help: '1 once the CSR cache has completed its first LIST.',
      registers,
    }),
  };
  // Every known series starts at zero, so dashboards and alerts see it before the first event.
  m.ignored.inc({ reason: 'requester_not_allowed' }, 0);
  for (const kind of ERROR_KINDS) m.errors.inc({ kind }, 0);
  m.latency.zero({ decision: 'approved' });
  m.latency.zero({ decision: 'denied' });
  return m;
}

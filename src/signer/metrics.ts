/**
 * The signer's metrics (prom-client, loaded when the signer starts, as the approver's). Names are
 * part of its interface (docs/pod-certificates.md).
 */
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DENY_REASONS, FAIL_REASONS } from './policy.js';

export interface SignerMetrics {
  readonly registry: Registry;
  readonly issued: Counter;
  readonly denied: Counter<'reason'>;
  readonly failed: Counter<'reason'>;
  readonly conflicts: Counter;
  readonly errors: Counter<'kind'>;
  readonly latency: Histogram<'outcome'>;
  readonly leader: Gauge;
  readonly synced: Gauge;
}

export const SIGNER_ERROR_KINDS = [
  'list',
  'watch',
  'parse',
  'lookup',
  'ca',
  'sign',
  'status',
  'lease',
] as const;
export type SignerErrorKind = (typeof SIGNER_ERROR_KINDS)[number];

const PREFIX = 'node_attestor_signer_';
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export async function createSignerMetrics(): Promise<SignerMetrics> {
  const prom = await import('prom-client');
  const registry = new prom.Registry();
  const registers = [registry];
  const m: SignerMetrics = {
    registry,
    issued: new prom.Counter({
      name: `${PREFIX}issued_total`,
      help: 'PodCertificateRequests this replica issued a certificate for.',
      registers,
    }),
    denied: new prom.Counter({
      name: `${PREFIX}denied_total`,
      help: 'PodCertificateRequests this replica denied, by the reason written on them.',
      labelNames: ['reason'],
      registers,
    }),
    failed: new prom.Counter({
      name: `${PREFIX}failed_total`,
      help: 'PodCertificateRequests this replica marked Failed, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    conflicts: new prom.Counter({
      name: `${PREFIX}status_conflicts_total`,
      help: 'Status writes refused with 409 because the request changed first.',
      registers,
    }),
    errors: new prom.Counter({
      name: `${PREFIX}errors_total`,
      help: 'Failures that were retried, by kind.',
      labelNames: ['kind'],
      registers,
    }),
    latency: new prom.Histogram({
      name: `${PREFIX}answer_latency_seconds`,
      help: 'From the request creationTimestamp (whole seconds) to our answer being written.',
      labelNames: ['outcome'],
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
      help: '1 once the PodCertificateRequest cache has completed its first LIST.',
      registers,
    }),
  };
  for (const kind of SIGNER_ERROR_KINDS) m.errors.inc({ kind }, 0);
  for (const reason of DENY_REASONS) m.denied.inc({ reason }, 0);
  for (const reason of FAIL_REASONS) m.failed.inc({ reason }, 0);
  for (const outcome of ['issued', 'denied', 'failed']) m.latency.zero({ outcome });
  return m;
}

/**
 * The signer's metrics (prom-client, loaded when the signer starts, as the approver's; plumbing in
 * ../controller/metrics.ts). Names are part of its interface (docs/pod-certificates.md).
 */
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  informerSyncedGauge,
  leaderGauge,
  openMetricFamilies,
  retriedErrorsCounter,
} from '../controller/metrics.js';
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

export async function createSignerMetrics(): Promise<SignerMetrics> {
  // Made in exposition order.
  const f = await openMetricFamilies('node_attestor_signer_');
  const m: SignerMetrics = {
    registry: f.registry,
    issued: f.counter('issued_total', 'PodCertificateRequests this replica issued a certificate for.'),
    denied: f.counter(
      'denied_total',
      'PodCertificateRequests this replica denied, by the reason written on them.',
      ['reason'],
    ),
    failed: f.counter('failed_total', 'PodCertificateRequests this replica marked Failed, by reason.', [
      'reason',
    ]),
    conflicts: f.counter(
      'status_conflicts_total',
      'Status writes refused with 409 because the request changed first.',
    ),
    errors: retriedErrorsCounter(f, SIGNER_ERROR_KINDS),
    latency: f.latency(
      'answer_latency_seconds',
      'From the request creationTimestamp (whole seconds) to our answer being written.',
      ['outcome'],
    ),
    leader: leaderGauge(f),
    synced: informerSyncedGauge(f, 'PodCertificateRequest'),
  };
  for (const reason of DENY_REASONS) m.denied.inc({ reason }, 0);
  for (const reason of FAIL_REASONS) m.failed.inc({ reason }, 0);
  for (const outcome of ['issued', 'denied', 'failed']) m.latency.zero({ outcome });
  return m;
}

/**
 * The prom-client plumbing every controller's metrics share. prom-client is imported only when a
 * controller starts, so the other node-attestor commands, which share its bundle, never pay its
 * ~40 ms load (docs/development.md). A private registry and no default process metrics: /metrics
 * shows exactly the families a controller makes here, in the order it makes them.
 */
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';

const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Makes families named `<prefix><name>` in one private registry. */
export interface MetricFamilies {
  readonly registry: Registry;
  counter<L extends string = string>(name: string, help: string, labelNames?: readonly L[]): Counter<L>;
  /** A latency histogram in seconds, from a few tens of milliseconds to minutes. */
  latency<L extends string>(name: string, help: string, labelNames: readonly L[]): Histogram<L>;
  gauge(name: string, help: string): Gauge;
}

export async function openMetricFamilies(prefix: string): Promise<MetricFamilies> {
  const prom = await import('prom-client');
  const registry = new prom.Registry();
  const registers = [registry];
  return {
    registry,
    counter: <L extends string = string>(name: string, help: string, labelNames?: readonly L[]) =>
      new prom.Counter<L>({
        name: `${prefix}${name}`,
        help,
        ...(labelNames === undefined ? {} : { labelNames }),
        registers,
      }),
    latency: <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new prom.Histogram<L>({
        name: `${prefix}${name}`,
        help,
        labelNames,
        buckets: LATENCY_BUCKETS,
        registers,
      }),
    gauge: (name: string, help: string) => new prom.Gauge({ name: `${prefix}${name}`, help, registers }),
  };
}

// The families every controller has, written once. Every known series starts at zero, so
// dashboards and alerts see it before the first event.

/** errors_total{kind}: failures that were retried. */
export function retriedErrorsCounter(f: MetricFamilies, kinds: readonly string[]): Counter<'kind'> {
  const c = f.counter('errors_total', 'Failures that were retried, by kind.', ['kind']);
  for (const kind of kinds) c.inc({ kind }, 0);
  return c;
}

/** leader: 1 while this replica holds the leader Lease. */
export function leaderGauge(f: MetricFamilies): Gauge {
  return f.gauge('leader', '1 while this replica holds the leader Lease, else 0.');
}

/** informer_synced: 1 once the cache of `noun` (e.g. "CSR") has completed its first LIST. */
export function informerSyncedGauge(f: MetricFamilies, noun: string): Gauge {
  return f.gauge('informer_synced', `1 once the ${noun} cache has completed its first LIST.`);
}

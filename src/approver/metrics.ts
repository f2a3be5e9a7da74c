/**
 * Prometheus text exposition (format 0.0.4), hand-written: three metric kinds with labels are
 * all the approver needs, and prom-client would add a dependency (and ~30 ms of start-up) for
 * them. Label values and help text are escaped as the format requires.
 */
type Labels = Readonly<Record<string, string>>;

const escapeLabel = (v: string): string =>
  v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
const escapeHelp = (v: string): string => v.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k] ?? '')}"`).join(',')}}`;
}

interface Metric {
  render(): string[];
}

abstract class Base implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
  ) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`invalid metric name ${name}`);
  }

  protected header(): string[] {
    return [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
  }

  abstract render(): string[];
}

/** Series keyed by their rendered label set. */
class Series<T> {
  readonly map = new Map<string, { labels: Labels; value: T }>();

  get(labels: Labels, init: () => T): { labels: Labels; value: T } {
    const key = labelText(labels);
    let s = this.map.get(key);
    if (s === undefined) {
      s = { labels: { ...labels }, value: init() };
      this.map.set(key, s);
    }
    return s;
  }
}

export class Counter extends Base {
  readonly #series = new Series<number>();

  constructor(name: string, help: string, initial: readonly Labels[] = [{}]) {
    super(name, help, 'counter');
    for (const l of initial) this.#series.get(l, () => 0);
  }

  inc(labels: Labels = {}, by = 1): void {
    if (by < 0) throw new Error('a counter only goes up');
    this.#series.get(labels, () => 0).value += by;
  }

  value(labels: Labels = {}): number {
    return this.#series.map.get(labelText(labels))?.value ?? 0;
  }

  render(): string[] {
    return [
      ...this.header(),
      ...[...this.#series.map.values()].map(
        (s) => `${this.name}${labelText(s.labels)} ${formatValue(s.value)}`,
      ),
    ];
  }
}

export class Gauge extends Base {
  #value = 0;

  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }

  set(v: number): void {
    this.#value = v;
  }

  get value(): number {
    return this.#value;
  }

  render(): string[] {
    return [...this.header(), `${this.name} ${formatValue(this.#value)}`];
  }
}

interface HistogramState {
  readonly counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Base {
  readonly buckets: readonly number[];
  readonly #series = new Series<HistogramState>();

  constructor(name: string, help: string, buckets: readonly number[], initial: readonly Labels[] = []) {
    super(name, help, 'histogram');
    this.buckets = [...buckets].sort((a, b) => a - b);
    for (const l of initial) this.#series.get(l, () => this.#empty());
  }

  #empty(): HistogramState {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  observe(v: number, labels: Labels = {}): void {
    const s = this.#series.get(labels, () => this.#empty()).value;
    this.buckets.forEach((b, i) => {
      if (v <= b) s.counts[i] = (s.counts[i] ?? 0) + 1;
    });
    s.sum += v;
    s.count++;
  }

  count(labels: Labels = {}): number {
    return this.#series.map.get(labelText(labels))?.value.count ?? 0;
  }

  render(): string[] {
    const out = this.header();
    for (const { labels, value } of this.#series.map.values()) {
      this.buckets.forEach((b, i) => {
        out.push(
          `${this.name}_bucket${labelText({ ...labels, le: formatValue(b) })} ${String(value.counts[i] ?? 0)}`,
        );
      });
      out.push(`${this.name}_bucket${labelText({ ...labels, le: '+Inf' })} ${String(value.count)}`);
      out.push(`${this.name}_sum${labelText(labels)} ${formatValue(value.sum)}`);
      out.push(`${this.name}_count${labelText(labels)} ${String(value.count)}`);
    }
    return out;
  }
}

export class Registry {
  readonly #metrics: Metric[] = [];

  register<T extends Metric>(m: T): T {
    this.#metrics.push(m);
    return m;
  }

  render(): string {
    return `${this.#metrics.flatMap((m) => m.render()).join('\n')}\n`;
  }
}

/** The approver's metrics; names are part of its interface (docs/approver.md). */
export interface ApproverMetrics {
  readonly registry: Registry;
  readonly approved: Counter;
  readonly denied: Counter;
  readonly ignored: Counter;
  readonly conflicts: Counter;
  readonly errors: Counter;
  readonly latency: Histogram;
  readonly leader: Gauge;
  readonly synced: Gauge;
}

export const ERROR_KINDS = ['list', 'watch', 'parse', 'lookup', 'approval', 'lease', 'event'] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export function createApproverMetrics(): ApproverMetrics {
  const registry = new Registry();
  const p = 'node_attestor_approver_';
  return {
    registry,
    approved: registry.register(new Counter(`${p}csrs_approved_total`, 'CSRs this replica approved.')),
    denied: registry.register(
      new Counter(`${p}csrs_denied_total`, 'CSRs this replica denied, by the reason written on the CSR.', []),
    ),
    ignored: registry.register(
      new Counter(
        `${p}csrs_ignored_total`,
        'Pending node-client CSRs left alone (requester not in the allow-list), counted once per CSR.',
        [{ reason: 'requester_not_allowed' }],
      ),
    ),
    conflicts: registry.register(
      new Counter(
        `${p}approval_conflicts_total`,
        'Approval writes refused with 409 because someone else changed the CSR first.',
      ),
    ),
    errors: registry.register(
      new Counter(
        `${p}errors_total`,
        'Failures that were retried, by kind.',
        ERROR_KINDS.map((kind) => ({ kind })),
      ),
    ),
    latency: registry.register(
      new Histogram(
        `${p}decision_latency_seconds`,
        'From the CSR creationTimestamp (whole seconds) to our decision being written.',
        [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
        [{ decision: 'approved' }, { decision: 'denied' }],
      ),
    ),
    leader: registry.register(
      new Gauge(`${p}leader`, '1 while this replica holds the leader Lease, else 0.'),
    ),
    synced: registry.register(
      new Gauge(`${p}informer_synced`, '1 once the CSR cache has completed its first LIST.'),
    ),
  };
}

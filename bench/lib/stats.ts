/** Order statistics for benchmark samples (milliseconds or bytes). */
export interface Summary {
  readonly runs: number;
  readonly median: number;
  readonly p99: number;
  readonly min: number;
  readonly max: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? Number.NaN;
  const b = sorted[hi] ?? Number.NaN;
  return a + (b - a) * (pos - lo);
}

export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((x, y) => x - y);
  return {
    runs: s.length,
    median: quantile(s, 0.5),
    p99: quantile(s, 0.99),
    min: s[0] ?? Number.NaN,
    max: s[s.length - 1] ?? Number.NaN,
  };
}

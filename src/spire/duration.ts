/**
 * Go's time.ParseDuration syntax ("90s", "10m", "1h30m", "1.5h", "250ms"), because SPIRE users
 * write durations that way in every other plugin's configuration.
 */

// In nanoseconds, Go's unit, so "34.567s" sums integers and comes out as exactly 34567 ms.
const UNIT_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  '\u00b5s': 1e3, // micro sign
  '\u03bcs': 1e3, // Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Milliseconds for a Go duration string, or undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  const m = /^([-+]?)(.*)$/s.exec(text);
  const sign = m?.[1] === '-' ? -1 : 1;
  let rest = m?.[2] ?? '';
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  while (rest !== '') {
    // Go accepts "1.5h", ".5h" and "1.h", but not "." alone.
    const part = /^([0-9]*)(?:\.([0-9]*))?([a-z\u00b5\u03bc]+)/.exec(rest);
    if (part === null) return undefined;
    const [all, whole = '', frac, unit = ''] = part;
    if (whole === '' && (frac === undefined || frac === '')) return undefined;
    const scale = UNIT_NS[unit];
    if (scale === undefined) return undefined;
    total += Number(whole === '' ? '0' : whole) * scale + Math.round(Number(`0.${frac ?? ''}0`) * scale);
    rest = rest.slice(all.length);
  }
  // Go's limit is the int64 nanosecond range, about 292 years.
  if (!Number.isFinite(total) || total >= 2 ** 63) return undefined;
  return (sign * total) / 1e6;
}

/** Renders milliseconds the way Go's Duration.String does for whole units, e.g. 5400000 → "1h30m0s". */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${rest}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = rest / 1000;
  return `${sign}${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s}s`;
}

/**
 * Go durations ("90s", "10m", "1h30m", "1.5h", "250ms"): the syntax SPIRE users write in HCL
 * and Go users pass to flags. Parsing returns undefined on bad input so each caller can name its
 * own input in the error.
 *
 * parseGoDuration/formatGoDuration are Go's time.ParseDuration and Duration.String (signs,
 * fractions, every unit); plugin configuration uses them as they are. parseDuration and
 * formatDuration are the CLI's and the progress messages' policy on top: a flag value may carry
 * surrounding spaces but never a sign, and is whole milliseconds; a message shows whole seconds.
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

/** Milliseconds (possibly fractional or negative) for a Go duration string, or undefined when it is not one. */
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

/**
 * A flag value: Go syntax after trimming surrounding whitespace, never signed (no CLI duration
 * can be negative, and "-5m" next to Go-style single-dash flags reads like a flag), in whole
 * milliseconds.
 */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (t.startsWith('-') || t.startsWith('+')) return undefined;
  const ms = parseGoDuration(t);
  return ms === undefined ? undefined : Math.round(ms);
}

/** For messages: Go's shape in whole seconds ("5m0s", "1h0m0s", "45s"), milliseconds below a second. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${String(Math.max(0, Math.round(ms)))}ms`;
  return formatGoDuration(Math.round(ms / 1000) * 1000);
}

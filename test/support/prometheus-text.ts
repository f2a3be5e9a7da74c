/**
 * A strict reader of the Prometheus text exposition format 0.0.4, for tests that read /metrics.
 *
 * Why not only parse-prometheus-text-format (a devDependency, used beside this one as a second
 * reading): it folds every series of a labelled histogram into one unlabelled bucket map and
 * drops their _sum and _count, and it accepts any line it does not understand as an untyped
 * sample. The approver's latency histogram has a `decision` label, so its values could not be
 * checked with it. This reader refuses anything the format does not allow.
 */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name (for a histogram: `<family>_bucket`, `_sum` or `_count`). */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly type: MetricType;
  /** undefined when the family has no HELP line. */
  readonly help: string | undefined;
  readonly samples: readonly Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: readonly string[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];
const SUFFIXES: Readonly<Record<MetricType, readonly string[]>> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

function fail(lineNo: number, why: string, line: string): never {
  throw new Error(`metrics line ${String(lineNo)}: ${why}: ${JSON.stringify(line)}`);
}

/** Go's strconv.ParseFloat as Prometheus applies it to sample values. */
function parseValue(text: string): number | undefined {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

function unescape(text: string, quotes: boolean, lineNo: number, line: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = text[++i];
    if (next === '\\') out += '\\';
    else if (next === 'n') out += '\n';
    else if (next === '"' && quotes) out += '"';
    else fail(lineNo, `invalid escape \\${next ?? ''}`, line);
  }
  return out;
}

function parseSample(line: string, lineNo: number): Sample {
  const open = line.search(/[{ ]/);
  if (open <= 0) fail(lineNo, 'no metric name and value', line);
  const name = line.slice(0, open);
  if (!NAME.test(name)) fail(lineNo, 'invalid metric name', line);
  const labels: Record<string, string> = {};
  let rest = line.slice(open);
  if (rest.startsWith('{')) {
    let i = 1;
    for (;;) {
      if (rest[i] === '}') break;
      const eq = rest.indexOf('="', i);
      if (eq < 0) fail(lineNo, 'malformed label', line);
      const label = rest.slice(i, eq);
      if (!LABEL_NAME.test(label)) fail(lineNo, `invalid label name ${JSON.stringify(label)}`, line);
      if (label in labels) fail(lineNo, `label ${label} repeated`, line);
      let j = eq + 2;
      let raw = '';
      while (j < rest.length && rest[j] !== '"') {
        if (rest[j] === '\\') raw += rest[j++] ?? '';
        raw += rest[j++] ?? '';
      }
      if (j >= rest.length) fail(lineNo, 'unterminated label value', line);
      labels[label] = unescape(raw, true, lineNo, line);
      i = j + 1;
      if (rest[i] === ',') i++;
      else if (rest[i] !== '}') fail(lineNo, 'expected , or } after a label', line);
    }
    rest = rest.slice(i + 1);
  }
  const fields = rest.split(' ').filter((f) => f !== '');
  if (!rest.startsWith(' ') || fields.length < 1 || fields.length > 2)
    fail(lineNo, 'expected a value and an optional timestamp', line);
  const value = parseValue(fields[0] ?? '');
  if (value === undefined) fail(lineNo, 'invalid value', line);
  if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) fail(lineNo, 'invalid timestamp', line);
  return { name, labels, value };
}

interface Building {
  name: string;
  type: MetricType;
  help: string | undefined;
  samples: Sample[];
}

export function parsePrometheusText(text: string): MetricFamily[] {
  if (text !== '' && !text.endsWith('\n')) throw new Error('metrics text does not end with a newline');
  const families: Building[] = [];
  const seen = new Set<string>();
  const familyOf = (name: string, lineNo: number, line: string): Building => {
    const last = families.at(-1);
    if (last?.name === name) return last;
    if (seen.has(name)) fail(lineNo, `metric family ${name} is not contiguous`, line);
    seen.add(name);
    const f: Building = { name, type: 'untyped', help: undefined, samples: [] };
    families.push(f);
    return f;
  };
  text.split('\n').forEach((line, index) => {
    const lineNo = index + 1;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (m === null) return; // a plain comment
      const [, kind, name = '', arg = ''] = m;
      if (!NAME.test(name)) fail(lineNo, 'invalid metric name', line);
      const f = familyOf(name, lineNo, line);
      if (kind === 'HELP') {
        if (f.help !== undefined) fail(lineNo, 'second HELP', line);
        f.help = unescape(arg, false, lineNo, line);
      } else {
        if (!TYPES.includes(arg)) fail(lineNo, `unknown type ${JSON.stringify(arg)}`, line);
        if (f.samples.length > 0 || f.type !== 'untyped') fail(lineNo, 'TYPE after samples or twice', line);
        f.type = arg as MetricType;
      }
      return;
    }
    const s = parseSample(line, lineNo);
    const last = families.at(-1);
    const belongs =
      last !== undefined && SUFFIXES[last.type].some((suffix) => s.name === `${last.name}${suffix}`);
    (belongs ? last : familyOf(s.name, lineNo, line)).samples.push(s);
  });
  for (const f of families) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

const seriesKey = (labels: Readonly<Record<string, string>>, without?: string): string =>
  JSON.stringify(
    Object.keys(labels)
      .filter((k) => k !== without)
      .sort()
      .map((k) => [k, labels[k]]),
  );

/** Each series: buckets with rising `le` ending at +Inf, cumulative counts, +Inf = _count. */
function checkHistogram(f: MetricFamily): void {
  const series = new Map<string, { les: number[]; counts: number[]; count?: number; sum?: number }>();
  const get = (labels: Readonly<Record<string, string>>, without?: string) => {
    const key = seriesKey(labels, without);
    let s = series.get(key);
    if (s === undefined) series.set(key, (s = { les: [], counts: [] }));
    return s;
  };
  for (const s of f.samples) {
    if (s.name.endsWith('_bucket')) {
      const le = s.labels.le === undefined ? undefined : parseValue(s.labels.le);
      if (le === undefined) throw new Error(`${f.name}: a bucket without a valid le label`);
      const h = get(s.labels, 'le');
      h.les.push(le);
      h.counts.push(s.value);
    } else if (s.name.endsWith('_count')) get(s.labels).count = s.value;
    else get(s.labels).sum = s.value;
  }
  for (const [key, h] of series) {
    const where = `${f.name}${key}`;
    if (h.les.at(-1) !== Infinity) throw new Error(`${where}: the last bucket is not le="+Inf"`);
    for (let i = 1; i < h.les.length; i++) {
      if ((h.les[i] ?? 0) <= (h.les[i - 1] ?? 0)) throw new Error(`${where}: le not increasing`);
      if ((h.counts[i] ?? 0) < (h.counts[i - 1] ?? 0)) throw new Error(`${where}: buckets not cumulative`);
    }
    if (h.count === undefined || h.sum === undefined) throw new Error(`${where}: no _count or _sum`);
    if (h.count !== h.counts.at(-1)) throw new Error(`${where}: _count differs from the +Inf bucket`);
  }
}

/**
 * The value of the one sample named `name` with exactly `labels`; undefined when there is none.
 * Throws when the text is not valid exposition format.
 */
export function sampleValue(
  text: string | readonly MetricFamily[],
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  const families = typeof text === 'string' ? parsePrometheusText(text) : text;
  const key = seriesKey(labels);
  for (const f of families)
    for (const s of f.samples) if (s.name === name && seriesKey(s.labels) === key) return s.value;
  return undefined;
}

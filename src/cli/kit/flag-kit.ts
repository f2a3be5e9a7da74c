/**
 * The flag machinery of every node-attestor command: one table per command drives parsing,
 * validation and --help. Go style (-flag value, -flag=value), as the 2018 tutorial uses, and GNU
 * style (--flag value) both work; booleans follow Go (-b, -b=true, -b=false) so a flag that
 * defaults to true can be turned off.
 */
import { parseArgs } from 'node:util';
import { AttestorError } from '../../errors.js';
import { formatDuration, parseDuration } from '../../util/duration.js';
import { normalizeGoFlags } from './go-flags.js';

export interface FlagSpec<G extends string = string> {
  readonly name: string;
  readonly type: 'string' | 'boolean';
  /** A string flag that may be repeated. */
  readonly multiple?: boolean;
  readonly arg?: string;
  readonly help: string;
  /** What --help shows as the default; omitted when there is none. */
  readonly shownDefault?: string;
  readonly group: G;
}

export const usage = (message: string, input: string): AttestorError =>
  new AttestorError('ERR_USAGE', message, { details: { input } });

const TRUE = ['true', '1', 't'];
const FALSE = ['false', '0', 'f'];

/** Takes the boolean flags out of (already normalized) `args`, leaving the rest for parseArgs. */
export function extractBooleans(
  args: readonly string[],
  booleans: ReadonlySet<string>,
): { rest: string[]; values: Map<string, boolean> } {
  const rest: string[] = [];
  const values = new Map<string, boolean>();
  let done = false;
  for (const a of args) {
    if (done || a === '--') {
      done = true;
      rest.push(a);
      continue;
    }
    const m = /^--([A-Za-z0-9-]+)(?:=([\s\S]*))?$/.exec(a);
    const name = m?.[1];
    if (m === null || name === undefined || !booleans.has(name)) {
      rest.push(a);
      continue;
    }
    const v = m[2]?.toLowerCase();
    if (v === undefined || TRUE.includes(v)) values.set(name, true);
    else if (FALSE.includes(v)) values.set(name, false);
    else throw usage(`invalid boolean value ${JSON.stringify(m[2])} for -${name}`, `-${name}`);
  }
  return { rest, values };
}

export interface ParsedFlags {
  readonly help: boolean;
  string(name: string): string | undefined;
  list(name: string): string[];
  bool(name: string, fallback: boolean): boolean;
}

/** Parses `argv` against `flags`; `command` names the command in "see … -help" hints. */
export function parseFlags(
  argv: readonly string[],
  flags: readonly FlagSpec[],
  command: string,
): ParsedFlags {
  const booleanNames = new Set(['help', ...flags.filter((f) => f.type === 'boolean').map((f) => f.name)]);
  const { rest, values: bools } = extractBooleans(normalizeGoFlags(argv), booleanNames);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: true,
      options: {
        ...Object.fromEntries(
          flags
            .filter((f) => f.type === 'string')
            .map((f) => [f.name, { type: 'string' as const, multiple: f.multiple === true }]),
        ),
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    // parseArgs' messages say "--flag"; keep them, they name the flag.
    const msg = err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
    throw usage(`${msg}; see ${command} -help`, 'flags');
  }
  if (parsed.positionals.length > 0)
    throw usage(
      `unexpected argument ${JSON.stringify(parsed.positionals[0])}; see ${command} -help`,
      'arguments',
    );
  const v = parsed.values as Record<string, string | string[] | boolean | undefined>;
  return {
    help: bools.get('help') === true || v.help === true,
    string: (name) => {
      const x = v[name];
      return typeof x === 'string' ? x : undefined;
    },
    list: (name) => {
      const x = v[name];
      return Array.isArray(x) ? x : [];
    },
    bool: (name, fallback) => bools.get(name) ?? fallback,
  };
}

export function nonEmpty(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw usage(`-${flag} must not be empty`, `-${flag}`);
  return value;
}

export function oneOf<T extends string>(
  value: string | undefined,
  flag: string,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw usage(`-${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`, `-${flag}`);
}

export function durationFlag(
  value: string | undefined,
  flag: string,
  fallback: number,
  bounds: { readonly min?: number; readonly max?: number } = {},
): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined)
    throw usage(
      `-${flag} ${JSON.stringify(value)} is not a duration (examples: 90s, 10m, 1h30m)`,
      `-${flag}`,
    );
  const min = bounds.min ?? 1;
  if (ms < min) throw usage(`-${flag} must be at least ${formatDuration(min)}, got ${value}`, `-${flag}`);
  if (bounds.max !== undefined && ms > bounds.max)
    throw usage(`-${flag} must be at most ${formatDuration(bounds.max)}, got ${value}`, `-${flag}`);
  return ms;
}

const WIDTH = 100;

/** Word-wraps `text` to the help width, each line prefixed by `indent`. */
export function wrap(text: string, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const w of text.split(' ')) {
    if (line !== '' && indent.length + line.length + 1 + w.length > WIDTH) {
      lines.push(line);
      line = w;
    } else {
      line = line === '' ? w : `${line} ${w}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines.map((l) => indent + l).join('\n');
}

/** The flags section of a --help text: one block per group, each flag with its help and default. */
export function flagHelp(flags: readonly FlagSpec[]): string[] {
  const out: string[] = [];
  for (const g of [...new Set(flags.map((f) => f.group))]) {
    out.push('', `${g}:`);
    for (const f of flags.filter((x) => x.group === g)) {
      out.push(`  -${f.name}${f.arg !== undefined ? ` ${f.arg}` : ''}`);
      const def = f.shownDefault !== undefined ? ` (default: ${f.shownDefault})` : '';
      out.push(wrap(`${f.help}${def}`, '        '));
    }
  }
  return out;
}

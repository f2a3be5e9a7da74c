/**
 * The flag machinery of every node-attestor command: one table per command drives parsing,
 * validation and --help. Go style (-flag value, -flag=value), as the 2018 tutorial uses, and GNU
 * style (--flag value) both work; booleans follow Go (-b, -b=true, -b=false) so a flag that
 * defaults to true can be turned off.
 */
import { AttestorError } from '../../errors.js';
import { formatDuration, parseDuration } from '../../util/duration.js';

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

export interface ParsedFlags {
  readonly help: boolean;
  string(name: string): string | undefined;
  list(name: string): string[];
  bool(name: string, fallback: boolean): boolean;
}

/** `-name`, `--name`, `-name=value`, `--name=value`; `-` alone and `-5m` are not flag words. */
const FLAG_WORD = /^--?([A-Za-z][A-Za-z0-9-]*)(?:=([\s\S]*))?$/;

/**
 * Parses `argv` against `flags`, as Go's flag package reads a command line (single or double
 * dash; a boolean takes no separate value, only `-b=false`), with errors in the command's own
 * words. Hand-written rather than node:util.parseArgs, whose messages speak of `--flag`,
 * positionals and quoting, and which cannot give booleans Go's `-b=false`.
 */
export function parseFlags(argv: readonly string[], flags: readonly FlagSpec[]): ParsedFlags {
  const specs = new Map(flags.map((f) => [f.name, f]));
  const strings = new Map<string, string[]>();
  const bools = new Map<string, boolean>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') {
      if (i + 1 < argv.length)
        throw usage(
          `unexpected argument ${JSON.stringify(argv[i + 1])} (this command takes only flags)`,
          'arguments',
        );
      break;
    }
    const m = FLAG_WORD.exec(a);
    if (m === null) {
      throw usage(`unexpected argument ${JSON.stringify(a)} (this command takes only flags)`, 'arguments');
    }
    const name = m[1] ?? '';
    const inline = m[2];
    const shown = `-${name}`;
    if (name === 'help' || name === 'h') {
      if (inline === undefined || TRUE.includes(inline.toLowerCase())) help = true;
      else if (!FALSE.includes(inline.toLowerCase()))
        throw usage(`invalid boolean value ${JSON.stringify(inline)} for ${shown}`, shown);
      continue;
    }
    const spec = specs.get(name);
    if (spec === undefined) throw usage(`unknown flag ${shown}`, shown);
    if (spec.type === 'boolean') {
      const v = inline?.toLowerCase();
      if (v === undefined || TRUE.includes(v)) bools.set(name, true);
      else if (FALSE.includes(v)) bools.set(name, false);
      else
        throw usage(
          `invalid boolean value ${JSON.stringify(inline)} for ${shown} (use ${shown}, ${shown}=true or ${shown}=false)`,
          shown,
        );
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined) throw usage(`flag ${shown} needs a value`, shown);
      if (next !== '-' && next.startsWith('-'))
        throw usage(
          `flag ${shown} needs a value, but ${JSON.stringify(next)} follows it; a value that starts with "-" is written ${shown}=${next}`,
          shown,
        );
      value = next;
      i++;
    }
    const seen = strings.get(name);
    if (seen !== undefined && spec.multiple === true) seen.push(value);
    else strings.set(name, [value]);
  }
  return {
    help,
    string: (name) => strings.get(name)?.at(-1),
    list: (name) => [...(strings.get(name) ?? [])],
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
  if (value.trim().startsWith('-')) throw usage(`-${flag} must not be negative, got ${value}`, `-${flag}`);
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

/** How every command's flags are written, said once for every --help. */
export const FLAG_SYNTAX_HELP =
  'Flags take Go style (-ca-cert x, -ca-cert=x) or GNU style (--ca-cert x). A switch (a flag shown ' +
  'without a value) is turned on by its name alone (-force) and off with =false (-force=false); the word ' +
  'after a switch is never its value. A value that starts with "-" is written with = (-flag=-value). ' +
  'Durations look like 90s, 10m, 1h30m.';

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

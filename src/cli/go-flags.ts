/**
 * Go's flag package accepts `-name value`, `-name=value`, `--name value` and `--name=value`,
 * and the 2018 tutorial uses the single-dash form. node:util.parseArgs reads `-ca-cert` as the
 * short flags c, a, … — so single-dash words are rewritten to double-dash before parsing.
 * Single letters (`-h`) stay short options; nothing after `--` is touched.
 */
export function normalizeGoFlags(args: readonly string[]): string[] {
  const out: string[] = [];
  let rest = false;
  for (const a of args) {
    if (rest) {
      out.push(a);
    } else if (a === '--') {
      rest = true;
      out.push(a);
    } else if (/^-[A-Za-z][A-Za-z0-9-]+(=[\s\S]*)?$/.test(a)) {
      out.push(`-${a}`);
    } else {
      out.push(a);
    }
  }
  return out;
}

/**
 * Go bool flags take `-force=true|false` (and 1/0, t/f); parseArgs has no negation on Node 20.
 * Rewrites `--flag=<bool>` for the given boolean flags into `--flag` or nothing, and returns
 * the first bad value as an error message.
 */
export function normalizeBoolFlags(
  args: readonly string[],
  booleans: ReadonlySet<string>,
): { args: string[]; error?: string } {
  const out: string[] = [];
  let rest = false;
  for (const a of args) {
    const m = rest ? null : /^--([A-Za-z0-9-]+)=([\s\S]*)$/.exec(a);
    if (a === '--') rest = true;
    if (m !== null && booleans.has(m[1] ?? '')) {
      const v = (m[2] ?? '').toLowerCase();
      if (['true', '1', 't'].includes(v)) out.push(`--${m[1] ?? ''}`);
      else if (!['false', '0', 'f'].includes(v))
        return { args: out, error: `invalid boolean value ${JSON.stringify(m[2])} for -${m[1] ?? ''}` };
    } else {
      out.push(a);
    }
  }
  return { args: out };
}

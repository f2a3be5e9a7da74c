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

/**
 * The environment every benchmarked process starts in. This machine sets NODE_EXTRA_CA_CERTS,
 * which makes Node 20 read and parse the whole CA bundle at every start (~55 ms; 24 and 26 defer
 * it): figures taken with it measure the machine, not the product. Node's other variables would
 * change what runs (NODE_OPTIONS), where the code cache comes from (NODE_COMPILE_CACHE) or add
 * work (NODE_V8_COVERAGE, NODE_DEBUG), so they go too. Set once for this process: children
 * (plugins, SPIRE, the CLI, the baselines) inherit it.
 */
const REMOVED = [
  'NODE_EXTRA_CA_CERTS',
  'NODE_OPTIONS',
  'NODE_COMPILE_CACHE',
  'NODE_DISABLE_COMPILE_CACHE',
  'NODE_V8_COVERAGE',
  'NODE_DEBUG',
  'NODE_DEBUG_NATIVE',
] as const;

/** Removes the variables above from process.env; returns a line for the report's header. */
export function controlEnvironment(): string {
  const had = REMOVED.filter((v) => process.env[v] !== undefined);
  for (const v of REMOVED) Reflect.deleteProperty(process.env, v);
  return `environment controlled: ${REMOVED.join(', ')} unset for every measured process${
    had.length > 0 ? ` (this machine had set ${had.join(', ')})` : ''
  }`;
}

/** The programs in the single executable, by the names they are run as (docs/development.md). */
export const PROGRAMS = [
  'node-attestor',
  'k8s-csr-agent-plugin',
  'k8s-csr-server-plugin',
  'k8s-pod-cert-agent-plugin',
  'k8s-pod-cert-server-plugin',
] as const;
export type Program = (typeof PROGRAMS)[number];

const PLUGINS = [
  'k8s-csr-agent-plugin',
  'k8s-csr-server-plugin',
  'k8s-pod-cert-agent-plugin',
  'k8s-pod-cert-server-plugin',
] as const satisfies Program[];
const isPlugin = (s: string | undefined): s is (typeof PLUGINS)[number] =>
  (PLUGINS as readonly (string | undefined)[]).includes(s);

/**
 * The program for an executable started as `name` (the basename of argv[0]) with `firstArg`:
 * a link named after a program runs it; otherwise a first argument naming a plugin runs that
 * plugin (`node-attestor k8s-csr-server-plugin`, for an entrypoint that cannot rename the file);
 * otherwise the CLI, whatever the file is called.
 */
export function programFor(
  name: string,
  firstArg: string | undefined,
): { program: Program; viaArgument: boolean } {
  if (isPlugin(name)) return { program: name, viaArgument: false };
  if (isPlugin(firstArg)) return { program: firstArg, viaArgument: true };
  return { program: 'node-attestor', viaArgument: false };
}

/**
 * How node-attestor waits for its CSR to be approved and signed: the one home of the choice, its
 * default and its polling steps (the CLI's -wait, the agent plugin's `wait`, docs/security.md).
 *
 * - `watch`: a watch on the one CSR. Quickest, but the role needs `watch` on CSRs, and RBAC
 *   cannot narrow a watch to one CSR (the client's fieldSelector is not an authorization
 *   attribute), so that credential can also watch, i.e. read, every CSR in the cluster.
 * - `poll`: GET the CSR by name, 100 ms rising to 2 s, jittered. Needs only `create` and `get`.
 */
export const WAIT_MODES = ['watch', 'poll'] as const;
export type WaitMode = (typeof WAIT_MODES)[number];
export const DEFAULT_WAIT_MODE: WaitMode = 'watch';

/** The first polling step (then doubling, each jittered to between half and all of it). */
export const POLL_INITIAL_MS = 100;
/** The longest polling step: a certificate signed just after a read is seen within 2 s. */
export const POLL_MAX_MS = 2000;

export function isWaitMode(value: string): value is WaitMode {
  return (WAIT_MODES as readonly string[]).includes(value);
}

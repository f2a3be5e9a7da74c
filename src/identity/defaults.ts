/**
 * The identity request's defaults and bounds, written once for both front ends (the
 * node-attestor command's flags and the k8s_csr agent plugin's plugin_data) and the flow itself.
 */

/** The 2018 prototype's directory: the CLI's contract (checked: see safe-open.ts). */
export const CLI_ID_DIR = '/tmp/spire-agent-id';
/**
 * Not the CLI's /tmp default: a world-writable parent invites squatting, and SPIRE does not tell
 * plugins its data_dir (Configure carries the trust domain only), so this is the conventional
 * place for spire-agent's state on a node, root-owned storage.
 */
export const AGENT_ID_DIR = '/var/lib/spire/agent/k8s_csr';

/** The certificate lifetime asked for (spec.expirationSeconds); renewed when a third is left. */
export const DEFAULT_EXPIRATION_MS = 3_600_000;
/** The CSR API's minimum spec.expirationSeconds. */
export const MIN_EXPIRATION_MS = 600_000;
/** spec.expirationSeconds is an int32. */
export const MAX_EXPIRATION_MS = (2 ** 31 - 1) * 1000;

/** How long to wait for approval and signing. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 300_000;
/**
 * Node timers take at most 2^31-1 ms (~24.8 days; a longer delay fires after 1 ms, which made a
 * long timeout expire at once): a week is plenty to wait for a manual approval.
 */
export const MAX_APPROVAL_TIMEOUT_MS = 7 * 24 * 3_600_000;

/**
 * `node-attestor approver` flags: one table drives parsing, validation and --help (as for the
 * main command), Go style (-flag value, -flag=value) and GNU style (--flag value), booleans as
 * -flag, -flag=true, -flag=false. Some booleans default to true, so -flag=false must mean false
 * (not "absent"): booleans are read here before node:util.parseArgs sees the rest.
 */
import { logFlagSpecs, logFlagsFrom, type LogFlags } from '../kit/log-flags.js';
import { formatDuration } from '../../util/duration.js';
import { durationFlag, parseFlags, usage, type FlagSpec } from '../kit/flag-kit.js';
import { kubeFlagSpecs, kubeFlagsFrom, type KubeFlags } from '../kit/kube-flags.js';
import { controllerFlagsFrom, leaderFlagSpecs, workersFlagSpec } from '../kit/controller-flags.js';
import { APPROVER_DEFAULTS as DEFAULTS, type ApproverSettings } from '../../approver/settings.js';
import { MAX_EXPIRATION_MS, MIN_EXPIRATION_MS } from '../../identity/defaults.js';

/** The library's settings, filled from flags (KubeFlags are KubeAccessOptions fields), plus logging. */
export type ApproverOptions = ApproverSettings & KubeFlags & LogFlags;

export type ApproverCommand =
  | { readonly kind: 'run'; readonly options: ApproverOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' };

type Group = 'Kubernetes access' | 'Approval' | 'Leader election' | 'Serving' | 'Output' | 'Other';
export type ApproverFlag = FlagSpec<Group>;

export const APPROVER_FLAGS: readonly ApproverFlag[] = [
  ...kubeFlagSpecs('client certificate of the approver (it needs the ClusterRole in k8s-configs/approver/)'),
  {
    name: 'allow-requester',
    type: 'string',
    multiple: true,
    arg: 'user',
    group: 'Approval',
    help: 'a requester (spec.username) whose node-client CSRs this approver decides, e.g. system:serviceaccount:spire:spire-agent; repeat for several. CSRs from anyone else are left alone. Required.',
  },
  {
    name: 'allow-node-bound-tokens',
    type: 'boolean',
    group: 'Approval',
    help: 'also accept tokens bound directly to a Node (TokenRequest boundObjectRef kind Node) rather than to a pod on it',
    shownDefault: 'false',
  },
  {
    name: 'pod-lookup',
    type: 'boolean',
    group: 'Approval',
    help: "when spec.extra has no node-name, find the node through the token's bound Pod (pod-name, pod-uid); needs get on pods",
    shownDefault: 'true',
  },
  {
    name: 'max-expiration',
    type: 'string',
    arg: 'duration',
    group: 'Approval',
    help: 'longest certificate lifetime approved (spec.expirationSeconds, at least 10m); a CSR without expirationSeconds or asking for more is denied (NoExpiration, ExpirationTooLong)',
    shownDefault: formatDuration(DEFAULTS.maxExpirationMs),
  },
  {
    name: 'record-events',
    type: 'boolean',
    group: 'Approval',
    help: 'record an Event (namespace default) on each decided CSR, so kubectl describe csr shows the reason; needs create on events there',
    shownDefault: 'true',
  },
  workersFlagSpec('Approval', 'CSRs decided', DEFAULTS),
  ...leaderFlagSpecs(DEFAULTS),
  ...logFlagSpecs(),
  { name: 'help', type: 'boolean', group: 'Other', help: 'show this help' },
  { name: 'version', type: 'boolean', group: 'Other', help: 'print the version' },
];

export function parseApproverCommandLine(argv: readonly string[]): ApproverCommand {
  const f = parseFlags(argv, APPROVER_FLAGS);
  if (f.help) return { kind: 'help' };
  if (f.bool('version', false)) return { kind: 'version' };
  const s = (name: string): string | undefined => f.string(name);
  const b = (name: string, fallback: boolean): boolean => f.bool(name, fallback);
  const kube = kubeFlagsFrom(f);

  const allowRequesters = f.list('allow-requester').map((r) => {
    const t = r.trim();
    if (t === '') throw usage('-allow-requester must not be empty', '-allow-requester');
    return t;
  });
  if (allowRequesters.length === 0)
    throw usage(
      'give at least one -allow-requester (e.g. -allow-requester system:serviceaccount:spire:spire-agent)',
      '-allow-requester',
    );

  const maxExpirationMs = durationFlag(s('max-expiration'), 'max-expiration', DEFAULTS.maxExpirationMs, {
    min: MIN_EXPIRATION_MS,
    max: MAX_EXPIRATION_MS,
  });

  const controller = controllerFlagsFrom(f, DEFAULTS);

  return {
    kind: 'run',
    options: {
      ...kube,
      allowRequesters,
      allowNodeBoundTokens: b('allow-node-bound-tokens', false),
      podLookup: b('pod-lookup', true),
      maxExpirationMs,
      recordEvents: b('record-events', true),
      ...controller,
      ...logFlagsFrom(f),
    },
  };
}

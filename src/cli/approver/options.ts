/**
 * `node-attestor approver` flags: one table drives parsing, validation and --help (as for the
 * main command), Go style (-flag value, -flag=value) and GNU style (--flag value), booleans as
 * -flag, -flag=true, -flag=false. Some booleans default to true, so -flag=false must mean false
 * (not "absent"): booleans are read here before node:util.parseArgs sees the rest.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { nodeNameProblem } from '../../csr/profile.js';
import { logFlagSpecs, logFlagsFrom, type LogFlags } from '../kit/log-flags.js';
import { formatDuration } from '../../util/duration.js';
import { durationFlag, nonEmpty, parseFlags, usage, type FlagSpec } from '../kit/flag-kit.js';
import { kubeFlagSpecs, kubeFlagsFrom, type KubeFlags } from '../kit/kube-flags.js';
import { parseListenAddress } from '../../controller/health-server.js';
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
  {
    name: 'workers',
    type: 'string',
    arg: 'n',
    group: 'Approval',
    help: 'CSRs decided concurrently (1-64)',
    shownDefault: String(DEFAULTS.workers),
  },
  {
    name: 'leader-elect',
    type: 'boolean',
    group: 'Leader election',
    help: 'elect one acting replica through a coordination.k8s.io Lease; without it every replica acts',
    shownDefault: 'true',
  },
  {
    name: 'lease-name',
    type: 'string',
    arg: 'name',
    group: 'Leader election',
    help: 'name of the Lease',
    shownDefault: DEFAULTS.leaseName,
  },
  {
    name: 'lease-namespace',
    type: 'string',
    arg: 'namespace',
    group: 'Leader election',
    help: 'namespace of the Lease',
    shownDefault: DEFAULTS.leaseNamespace,
  },
  {
    name: 'leader-identity',
    type: 'string',
    arg: 'id',
    group: 'Leader election',
    help: 'this replica in the Lease (holderIdentity); must differ between replicas',
    shownDefault: 'the host name, then _ and 8 random hex digits',
  },
  {
    name: 'lease-duration',
    type: 'string',
    arg: 'duration',
    group: 'Leader election',
    help: 'how long others wait before taking over a Lease that is not renewed',
    shownDefault: formatDuration(DEFAULTS.leaseDurationMs),
  },
  {
    name: 'renew-deadline',
    type: 'string',
    arg: 'duration',
    group: 'Leader election',
    help: 'the leader stops acting when it could not renew for this long (less than -lease-duration)',
    shownDefault: formatDuration(DEFAULTS.renewDeadlineMs),
  },
  {
    name: 'retry-period',
    type: 'string',
    arg: 'duration',
    group: 'Leader election',
    help: 'how often the leader renews and candidates try (less than -renew-deadline)',
    shownDefault: formatDuration(DEFAULTS.retryPeriodMs),
  },
  {
    name: 'http-address',
    type: 'string',
    arg: 'host:port',
    group: 'Serving',
    help: 'where /healthz, /readyz and /metrics are served (plain HTTP); port 0 picks a free port',
    shownDefault: DEFAULTS.httpAddress,
  },
  ...logFlagSpecs(),
  { name: 'help', type: 'boolean', group: 'Other', help: 'show this help' },
  { name: 'version', type: 'boolean', group: 'Other', help: 'print the version' },
];

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function defaultLeaderIdentity(): string {
  return `${hostname()}_${randomBytes(4).toString('hex')}`;
}

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

  const workersText = s('workers');
  const workers = workersText === undefined ? DEFAULTS.workers : Number(workersText.trim());
  if (!Number.isInteger(workers) || workers < 1 || workers > 64)
    throw usage(
      `-workers must be a whole number from 1 to 64, got ${JSON.stringify(workersText)}`,
      '-workers',
    );

  const maxExpirationMs = durationFlag(s('max-expiration'), 'max-expiration', DEFAULTS.maxExpirationMs, {
    min: MIN_EXPIRATION_MS,
    max: MAX_EXPIRATION_MS,
  });

  const leaseName = nonEmpty(s('lease-name'), 'lease-name') ?? DEFAULTS.leaseName;
  const leaseNameProblem = nodeNameProblem(leaseName);
  if (leaseNameProblem !== undefined)
    throw usage(
      `-lease-name ${JSON.stringify(leaseName)} is not a valid object name: ${leaseNameProblem}`,
      '-lease-name',
    );
  const leaseNamespace = nonEmpty(s('lease-namespace'), 'lease-namespace') ?? DEFAULTS.leaseNamespace;
  if (!DNS1123_LABEL.test(leaseNamespace) || leaseNamespace.length > 63)
    throw usage(
      `-lease-namespace ${JSON.stringify(leaseNamespace)} is not a valid namespace name (a DNS-1123 label)`,
      '-lease-namespace',
    );

  const leaseBounds = { min: 100, max: 3_600_000 };
  const leaseDurationMs = durationFlag(
    s('lease-duration'),
    'lease-duration',
    DEFAULTS.leaseDurationMs,
    leaseBounds,
  );
  const renewDeadlineMs = durationFlag(
    s('renew-deadline'),
    'renew-deadline',
    DEFAULTS.renewDeadlineMs,
    leaseBounds,
  );
  const retryPeriodMs = durationFlag(s('retry-period'), 'retry-period', DEFAULTS.retryPeriodMs, leaseBounds);
  if (leaseDurationMs <= renewDeadlineMs)
    throw usage(
      `-lease-duration (${formatDuration(leaseDurationMs)}) must be longer than -renew-deadline (${formatDuration(renewDeadlineMs)})`,
      '-lease-duration',
    );
  if (renewDeadlineMs <= retryPeriodMs)
    throw usage(
      `-renew-deadline (${formatDuration(renewDeadlineMs)}) must be longer than -retry-period (${formatDuration(retryPeriodMs)})`,
      '-renew-deadline',
    );

  const httpAddress = s('http-address') ?? DEFAULTS.httpAddress;
  if (parseListenAddress(httpAddress) === undefined)
    throw usage(
      `-http-address ${JSON.stringify(httpAddress)} is not host:port (e.g. :8080, 127.0.0.1:8080)`,
      '-http-address',
    );

  return {
    kind: 'run',
    options: {
      ...kube,
      allowRequesters,
      allowNodeBoundTokens: b('allow-node-bound-tokens', false),
      podLookup: b('pod-lookup', true),
      maxExpirationMs,
      workers,
      recordEvents: b('record-events', true),
      leaderElect: b('leader-elect', true),
      leaseName,
      leaseNamespace,
      leaderIdentity: nonEmpty(s('leader-identity'), 'leader-identity') ?? defaultLeaderIdentity(),
      leaseDurationMs,
      renewDeadlineMs,
      retryPeriodMs,
      httpAddress,
      ...logFlagsFrom(f),
    },
  };
}

/**
 * The flags every controller command shares (the approver, the signer): leader election over a
 * Lease, the health/metrics address and the worker count. One table and one reading, so both
 * commands spell, bound and explain them the same way.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { nodeNameProblem } from '../../csr/profile.js';
import { parseListenAddress } from '../../controller/health-server.js';
import type { ControllerDefaults, ControllerSettings } from '../../controller/settings.js';
import { formatDuration } from '../../util/duration.js';
import { durationFlag, nonEmpty, usage, type FlagSpec, type ParsedFlags } from './flag-kit.js';

export function workersFlagSpec<G extends string>(
  group: G,
  what: string,
  d: ControllerDefaults,
): FlagSpec<G> {
  return {
    name: 'workers',
    type: 'string',
    arg: 'n',
    group,
    help: `${what} concurrently (1-64)`,
    shownDefault: String(d.workers),
  };
}

export function leaderFlagSpecs(d: ControllerDefaults): FlagSpec<'Leader election' | 'Serving'>[] {
  return [
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
      shownDefault: d.leaseName,
    },
    {
      name: 'lease-namespace',
      type: 'string',
      arg: 'namespace',
      group: 'Leader election',
      help: 'namespace of the Lease',
      shownDefault: d.leaseNamespace,
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
      shownDefault: formatDuration(d.leaseDurationMs),
    },
    {
      name: 'renew-deadline',
      type: 'string',
      arg: 'duration',
      group: 'Leader election',
      help: 'the leader stops acting when it could not renew for this long (less than -lease-duration)',
      shownDefault: formatDuration(d.renewDeadlineMs),
    },
    {
      name: 'retry-period',
      type: 'string',
      arg: 'duration',
      group: 'Leader election',
      help: 'how often the leader renews and candidates try (less than -renew-deadline)',
      shownDefault: formatDuration(d.retryPeriodMs),
    },
    {
      name: 'http-address',
      type: 'string',
      arg: 'host:port',
      group: 'Serving',
      help: 'where /healthz, /readyz and /metrics are served (plain HTTP); port 0 picks a free port',
      shownDefault: d.httpAddress,
    },
  ];
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A namespace name (a DNS-1123 label), or a usage error naming `flag`. */
export function namespaceFlag(value: string, flag: string): string {
  if (!DNS1123_LABEL.test(value) || value.length > 63)
    throw usage(`${flag} ${JSON.stringify(value)} is not a valid namespace name (a DNS-1123 label)`, flag);
  return value;
}

export function defaultLeaderIdentity(): string {
  return `${hostname()}_${randomBytes(4).toString('hex')}`;
}

export function controllerFlagsFrom(f: ParsedFlags, d: ControllerDefaults): ControllerSettings {
  const s = (name: string): string | undefined => f.string(name);
  const workersText = s('workers');
  const workers = workersText === undefined ? d.workers : Number(workersText.trim());
  if (!Number.isInteger(workers) || workers < 1 || workers > 64)
    throw usage(
      `-workers must be a whole number from 1 to 64, got ${JSON.stringify(workersText)}`,
      '-workers',
    );

  const leaseName = nonEmpty(s('lease-name'), 'lease-name') ?? d.leaseName;
  const leaseNameProblem = nodeNameProblem(leaseName);
  if (leaseNameProblem !== undefined)
    throw usage(
      `-lease-name ${JSON.stringify(leaseName)} is not a valid object name: ${leaseNameProblem}`,
      '-lease-name',
    );
  const leaseNamespace = namespaceFlag(
    nonEmpty(s('lease-namespace'), 'lease-namespace') ?? d.leaseNamespace,
    '-lease-namespace',
  );

  const leaseBounds = { min: 100, max: 3_600_000 };
  const leaseDurationMs = durationFlag(s('lease-duration'), 'lease-duration', d.leaseDurationMs, leaseBounds);
  const renewDeadlineMs = durationFlag(s('renew-deadline'), 'renew-deadline', d.renewDeadlineMs, leaseBounds);
  const retryPeriodMs = durationFlag(s('retry-period'), 'retry-period', d.retryPeriodMs, leaseBounds);
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

  const httpAddress = s('http-address') ?? d.httpAddress;
  if (parseListenAddress(httpAddress) === undefined)
    throw usage(
      `-http-address ${JSON.stringify(httpAddress)} is not host:port (e.g. :8080, 127.0.0.1:8080)`,
      '-http-address',
    );
  return {
    workers,
    leaderElect: f.bool('leader-elect', true),
    leaseName,
    leaseNamespace,
    leaderIdentity: nonEmpty(s('leader-identity'), 'leader-identity') ?? defaultLeaderIdentity(),
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    httpAddress,
  };
}

/**
 * `node-attestor signer` flags: one table drives parsing, validation and --help, as for the
 * approver (the leader-election and serving flags are the same table: ../kit/controller-flags.ts).
 */
import { logFlagSpecs, logFlagsFrom, type LogFlags } from '../kit/log-flags.js';
import { formatDuration } from '../../util/duration.js';
import { durationFlag, nonEmpty, parseFlags, usage, type FlagSpec } from '../kit/flag-kit.js';
import { kubeFlagSpecs, kubeFlagsFrom, type KubeFlags } from '../kit/kube-flags.js';
import {
  controllerFlagsFrom,
  leaderFlagSpecs,
  namespaceFlag,
  workersFlagSpec,
} from '../kit/controller-flags.js';
import {
  SIGNER_DEFAULTS as DEFAULTS,
  type CaSourceSetting,
  type SignerSettings,
} from '../../signer/settings.js';
import { nodeNameProblem } from '../../csr/profile.js';
import { MIN_REFRESH_AFTER_MS } from '../../signer/issue.js';

export type SignerOptions = SignerSettings & KubeFlags & LogFlags;

export type SignerCommand =
  | { readonly kind: 'run'; readonly options: SignerOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' };

type Group = 'Kubernetes access' | 'Signing' | 'CA' | 'Leader election' | 'Serving' | 'Output' | 'Other';

/** The API's bounds on a pod certificate's lifetime (PodCertificateRequest validation). */
const MIN_LIFETIME_MS = 3_600_000;
const MAX_LIFETIME_MS = 91 * 24 * 3_600_000;

export const SIGNER_FLAGS: readonly FlagSpec<Group>[] = [
  ...kubeFlagSpecs('client certificate of the signer (it needs the ClusterRole in k8s-configs/signer/)'),
  {
    name: 'signer-name',
    type: 'string',
    arg: 'name',
    group: 'Signing',
    help: 'the signerName this signer serves (a podCertificate volume names it); requests for other signers are never read',
    shownDefault: DEFAULTS.signerName,
  },
  {
    name: 'allow-service-account',
    type: 'string',
    multiple: true,
    arg: 'namespace:name',
    group: 'Signing',
    help: "a service account whose pods get certificates, e.g. spire:spire-agent; repeat for several. Other pods' requests are denied (ServiceAccountNotAllowed). Required.",
  },
  {
    name: 'require-pod-label',
    type: 'string',
    multiple: true,
    arg: 'key=value',
    group: 'Signing',
    help: "issue only when the Pod, read at signing time, carries this label (and has the request's UID, is on its node and is not being deleted); repeat for several; needs get on pods",
  },
  {
    name: 'max-expiration',
    type: 'string',
    arg: 'duration',
    group: 'Signing',
    help: "longest certificate lifetime (1h to 2184h); a request's spec.maxExpirationSeconds lowers it",
    shownDefault: formatDuration(DEFAULTS.maxExpirationMs),
  },
  {
    name: 'refresh-after',
    type: 'string',
    arg: 'duration',
    group: 'Signing',
    help: 'beginRefreshAt this long after notBefore (10m or more; kept 10m before notAfter), when the kubelet renews; e.g. 10m for short rotation tests',
    shownDefault: 'half the lifetime',
  },
  workersFlagSpec('Signing', 'requests answered', DEFAULTS),
  {
    name: 'ca-cert-file',
    type: 'string',
    arg: 'path',
    group: 'CA',
    help: 'PEM file with the CA certificate(s): the bundle the k8s_pod_cert server plugin trusts; with -ca-key-file',
  },
  {
    name: 'ca-key-file',
    type: 'string',
    arg: 'path',
    group: 'CA',
    help: 'PEM file with the private key(s) of the CA certificate(s) that may sign (PKCS#8, SEC1 or PKCS#1, unencrypted)',
  },
  {
    name: 'ca-secret',
    type: 'string',
    arg: 'namespace/name',
    group: 'CA',
    help: 'a Secret holding the CA certificate(s) in ca.crt and their key(s) in ca.key, instead of the files; needs get on that Secret',
  },
  {
    name: 'ca-publish-delay',
    type: 'string',
    arg: 'duration',
    group: 'CA',
    help: 'a CA signs only this long after its notBefore, so that the SPIRE servers trust it before any agent shows a certificate it signed; the newest CA past it signs',
    shownDefault: formatDuration(DEFAULTS.caPublishDelayMs),
  },
  {
    name: 'ca-reload-interval',
    type: 'string',
    arg: 'duration',
    group: 'CA',
    help: 'how often the CA files or Secret are read again (a failed read keeps the last good material)',
    shownDefault: formatDuration(DEFAULTS.caReloadMs),
  },
  ...leaderFlagSpecs({ ...DEFAULTS }),
  ...logFlagSpecs(),
  { name: 'help', type: 'boolean', group: 'Other', help: 'show this help' },
  { name: 'version', type: 'boolean', group: 'Other', help: 'print the version' },
];

/** A signer name: <domain>/<path>, not under the reserved kubernetes.io. */
const SIGNER_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export function parseSignerCommandLine(argv: readonly string[]): SignerCommand {
  const f = parseFlags(argv, SIGNER_FLAGS);
  if (f.help) return { kind: 'help' };
  if (f.bool('version', false)) return { kind: 'version' };
  const s = (name: string): string | undefined => f.string(name);
  const kube = kubeFlagsFrom(f);

  const signerName = nonEmpty(s('signer-name'), 'signer-name') ?? DEFAULTS.signerName;
  if (!SIGNER_NAME.test(signerName) || signerName.length > 571)
    throw usage(
      `-signer-name ${JSON.stringify(signerName)} is not a signer name (<domain>/<name>, e.g. ${DEFAULTS.signerName})`,
      '-signer-name',
    );
  if (
    signerName.startsWith('kubernetes.io/') ||
    signerName.split('/')[0]?.endsWith('.kubernetes.io') === true
  )
    throw usage(
      `-signer-name ${signerName}: kubernetes.io signer names are reserved for Kubernetes`,
      '-signer-name',
    );

  const allowServiceAccounts = f.list('allow-service-account').map((v) => {
    const [ns = '', name = '', ...rest] = v.trim().split(':');
    if (rest.length > 0 || ns === '' || name === '' || nodeNameProblem(name) !== undefined)
      throw usage(
        `-allow-service-account ${JSON.stringify(v)} is not namespace:name (e.g. spire:spire-agent)`,
        '-allow-service-account',
      );
    return `${namespaceFlag(ns, '-allow-service-account')}:${name}`;
  });
  if (allowServiceAccounts.length === 0)
    throw usage(
      'give at least one -allow-service-account (e.g. -allow-service-account spire:spire-agent)',
      '-allow-service-account',
    );

  const requirePodLabels: Record<string, string> = {};
  for (const v of f.list('require-pod-label')) {
    const at = v.indexOf('=');
    const key = at < 0 ? '' : v.slice(0, at).trim();
    if (key === '')
      throw usage(
        `-require-pod-label ${JSON.stringify(v)} is not key=value (e.g. app=spire-agent)`,
        '-require-pod-label',
      );
    requirePodLabels[key] = v.slice(at + 1).trim();
  }

  const maxExpirationMs = durationFlag(s('max-expiration'), 'max-expiration', DEFAULTS.maxExpirationMs, {
    min: MIN_LIFETIME_MS,
    max: MAX_LIFETIME_MS,
  });

  const refreshAfter = s('refresh-after');
  const refreshAfterMs =
    refreshAfter === undefined
      ? undefined
      : durationFlag(refreshAfter, 'refresh-after', MIN_REFRESH_AFTER_MS, {
          min: MIN_REFRESH_AFTER_MS,
          max: MAX_LIFETIME_MS,
        });

  const certFile = nonEmpty(s('ca-cert-file'), 'ca-cert-file');
  const keyFile = nonEmpty(s('ca-key-file'), 'ca-key-file');
  const secret = nonEmpty(s('ca-secret'), 'ca-secret');
  let ca: CaSourceSetting;
  if (secret !== undefined) {
    if (certFile !== undefined || keyFile !== undefined)
      throw usage('give either -ca-secret or -ca-cert-file with -ca-key-file, not both', '-ca-secret');
    const [ns = '', name = '', ...rest] = secret.split('/');
    if (rest.length > 0 || name === '' || nodeNameProblem(name) !== undefined)
      throw usage(
        `-ca-secret ${JSON.stringify(secret)} is not namespace/name (e.g. spire/node-attestor-signer-ca)`,
        '-ca-secret',
      );
    ca = { kind: 'secret', namespace: namespaceFlag(ns, '-ca-secret'), name };
  } else if (certFile !== undefined && keyFile !== undefined) ca = { kind: 'files', certFile, keyFile };
  else
    throw usage(
      'give the CA: -ca-cert-file and -ca-key-file, or -ca-secret namespace/name',
      certFile === undefined ? '-ca-cert-file' : '-ca-key-file',
    );

  const caPublishDelayMs = durationFlag(
    s('ca-publish-delay'),
    'ca-publish-delay',
    DEFAULTS.caPublishDelayMs,
    {
      min: 0,
      max: 30 * 24 * 3_600_000,
    },
  );
  const caReloadMs = durationFlag(s('ca-reload-interval'), 'ca-reload-interval', DEFAULTS.caReloadMs, {
    min: 1000,
    max: 3_600_000,
  });

  return {
    kind: 'run',
    options: {
      ...kube,
      signerName,
      allowServiceAccounts,
      requirePodLabels,
      maxExpirationMs,
      ...(refreshAfterMs === undefined ? {} : { refreshAfterMs }),
      ca,
      caPublishDelayMs,
      caReloadMs,
      ...controllerFlagsFrom(f, DEFAULTS),
      ...logFlagsFrom(f),
    },
  };
}

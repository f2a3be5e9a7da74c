/**
 * The node-attestor command's flags: one table drives parsing, validation and --help, so the
 * help can never disagree with what is accepted. The 2018 prototype's flags and defaults
 * (-kubeconfig, -agent-name, -ca-cert, -client-cert, -client-key, -id-dir) are the contract.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { AttestorError } from '../errors.js';
import { DEFAULT_KEY_TYPE, KEY_TYPES, parseKeyType, type KeyType } from '../csr/keys.js';
import { defaultNodeName, validateNodeName } from '../csr/profile.js';
import { LOG_LEVELS, type LogLevel } from '../log/logger.js';
import { formatDuration, parseDuration } from '../util/duration.js';
import { normalizeBoolFlags, normalizeGoFlags } from './go-flags.js';

export const DEFAULT_ID_DIR = '/tmp/spire-agent-id';
export const DEFAULT_EXPIRATION_MS = 3_600_000;
export const DEFAULT_TIMEOUT_MS = 300_000;
/** The CSR API's minimum spec.expirationSeconds. */
export const MIN_EXPIRATION_MS = 600_000;
/** spec.expirationSeconds is an int32. */
export const MAX_EXPIRATION_MS = (2 ** 31 - 1) * 1000;
/** Node's timers cannot wait longer than 2^31-1 ms (they would fire at once); a week is plenty. */
export const MAX_TIMEOUT_MS = 168 * 3_600_000;

export interface CliOptions {
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly server?: string;
  readonly caCert?: string;
  readonly clientCert?: string;
  readonly clientKey?: string;
  readonly tokenFile?: string;
  readonly inCluster: boolean;
  readonly agentName: string;
  readonly idDir: string;
  readonly keyType: KeyType;
  readonly expirationMs: number;
  readonly timeoutMs: number;
  readonly renewBeforeMs?: number;
  readonly force: boolean;
  readonly output: 'text' | 'json';
  readonly logFormat: 'text' | 'json';
  readonly logLevel: LogLevel;
}

export type ParsedCommand =
  | { readonly kind: 'run'; readonly options: CliOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' };

interface FlagSpec {
  readonly name: string;
  readonly type: 'string' | 'boolean';
  readonly arg?: string;
  readonly help: string;
  /** What --help shows as the default; omitted when there is none. */
  readonly shownDefault?: string;
  readonly group: 'Kubernetes access' | 'Identity document' | 'Output' | 'Other';
}

export const FLAGS: readonly FlagSpec[] = [
  {
    name: 'kubeconfig',
    type: 'string',
    arg: 'path',
    group: 'Kubernetes access',
    help: 'kubeconfig file giving the API server and, unless the flags below override them, its CA and the credentials',
    shownDefault: '$KUBECONFIG, then ~/.kube/config',
  },
  {
    name: 'context',
    type: 'string',
    arg: 'name',
    group: 'Kubernetes access',
    help: 'kubeconfig context to use',
    shownDefault: "the kubeconfig's current-context",
  },
  {
    name: 'server',
    type: 'string',
    arg: 'url',
    group: 'Kubernetes access',
    help: 'API server URL; overrides the kubeconfig (e.g. https://192.168.49.2:8443)',
  },
  {
    name: 'ca-cert',
    type: 'string',
    arg: 'path',
    group: 'Kubernetes access',
    help: "PEM file trusted for the API server: the cluster CA bundle, or the API server's own certificate (pinned, as in the 2018 tutorial's ~/.minikube/apiserver.crt)",
  },
  {
    name: 'client-cert',
    type: 'string',
    arg: 'path',
    group: 'Kubernetes access',
    help: 'client certificate of the user that creates the CSR (e.g. keys/node-attestor/spire-agent.crt)',
  },
  {
    name: 'client-key',
    type: 'string',
    arg: 'path',
    group: 'Kubernetes access',
    help: 'private key of -client-cert',
  },
  {
    name: 'token-file',
    type: 'string',
    arg: 'path',
    group: 'Kubernetes access',
    help: 'bearer token file, re-read on every request (e.g. a projected service-account token)',
  },
  {
    name: 'in-cluster',
    type: 'boolean',
    group: 'Kubernetes access',
    help: "use the pod's service account (KUBERNETES_SERVICE_HOST and /var/run/secrets/kubernetes.io/serviceaccount)",
    shownDefault: 'false',
  },
  {
    name: 'agent-name',
    type: 'string',
    arg: 'name',
    group: 'Identity document',
    help: 'node name put in the certificate subject, CN=system:node:<name>; must be a valid Kubernetes node name',
    shownDefault: 'the host name, lower-cased',
  },
  {
    name: 'id-dir',
    type: 'string',
    arg: 'dir',
    group: 'Identity document',
    help: 'directory for id-doc.key (0600) and id-doc.crt (0644); created 0700',
    shownDefault: DEFAULT_ID_DIR,
  },
  {
    name: 'key-type',
    type: 'string',
    arg: 'type',
    group: 'Identity document',
    help: `private key type: ${KEY_TYPES.join(', ')}`,
    shownDefault: DEFAULT_KEY_TYPE,
  },
  {
    name: 'expiration',
    type: 'string',
    arg: 'duration',
    group: 'Identity document',
    help: 'requested certificate lifetime (spec.expirationSeconds, at least 10m; the signer may shorten it)',
    shownDefault: formatDuration(DEFAULT_EXPIRATION_MS),
  },
  {
    name: 'timeout',
    type: 'string',
    arg: 'duration',
    group: 'Identity document',
    help: 'how long to wait for approval and signing (at most 168h)',
    shownDefault: formatDuration(DEFAULT_TIMEOUT_MS),
  },
  {
    name: 'renew-before',
    type: 'string',
    arg: 'duration',
    group: 'Identity document',
    help: 'request a new certificate when the current one expires within this time',
    shownDefault: "a third of the certificate's lifetime",
  },
  {
    name: 'force',
    type: 'boolean',
    group: 'Identity document',
    help: 'request a new identity even if the current one is still fresh',
    shownDefault: 'false',
  },
  {
    name: 'output',
    type: 'string',
    arg: 'format',
    group: 'Output',
    help: 'result format on stdout: text or json',
    shownDefault: 'text',
  },
  {
    name: 'log-format',
    type: 'string',
    arg: 'format',
    group: 'Output',
    help: 'log format on stderr: text or json',
    shownDefault: 'text',
  },
  {
    name: 'log-level',
    type: 'string',
    arg: 'level',
    group: 'Output',
    help: `log level: ${LOG_LEVELS.join(', ')}`,
    shownDefault: 'info',
  },
  { name: 'help', type: 'boolean', group: 'Other', help: 'show this help' },
  { name: 'version', type: 'boolean', group: 'Other', help: 'print the version' },
];

const usage = (message: string, input: string): AttestorError =>
  new AttestorError('ERR_USAGE', message, { details: { input } });

function duration(
  value: string | undefined,
  flag: string,
  fallback: number,
  min = 1,
  max = Infinity,
): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined)
    throw usage(
      `-${flag} ${JSON.stringify(value)} is not a duration (examples: 90s, 10m, 1h30m)`,
      `-${flag}`,
    );
  if (ms < min) throw usage(`-${flag} must be at least ${formatDuration(min)}, got ${value}`, `-${flag}`);
  if (ms > max) throw usage(`-${flag} must be at most ${formatDuration(max)}, got ${value}`, `-${flag}`);
  return ms;
}

function oneOf<T extends string>(
  value: string | undefined,
  flag: string,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw usage(`-${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`, `-${flag}`);
}

function nonEmpty(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw usage(`-${flag} must not be empty`, `-${flag}`);
  return value;
}

export function parseCommandLine(argv: readonly string[]): ParsedCommand {
  const booleans = new Set(FLAGS.filter((f) => f.type === 'boolean').map((f) => f.name));
  const bools = normalizeBoolFlags(normalizeGoFlags(argv), booleans);
  if (bools.error !== undefined) throw usage(bools.error, 'flags');
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: bools.args,
      strict: true,
      allowPositionals: true,
      options: {
        ...Object.fromEntries(FLAGS.map((f) => [f.name, { type: f.type }])),
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    // parseArgs' messages say "--flag"; keep them, they name the flag.
    const msg = err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
    throw usage(`${msg}; see node-attestor -help`, 'flags');
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (parsed.positionals.length > 0)
    throw usage(
      `unexpected argument ${JSON.stringify(parsed.positionals[0])}; see node-attestor -help`,
      'arguments',
    );
  if (v.help === true) return { kind: 'help' };
  if (v.version === true) return { kind: 'version' };
  const s = (name: string): string | undefined => {
    const x = v[name];
    return typeof x === 'string' ? x : undefined;
  };

  const clientCert = nonEmpty(s('client-cert'), 'client-cert');
  const clientKey = nonEmpty(s('client-key'), 'client-key');
  if ((clientCert === undefined) !== (clientKey === undefined))
    throw usage(
      clientCert === undefined ? '-client-key needs -client-cert' : '-client-cert needs -client-key',
      clientCert === undefined ? '-client-cert' : '-client-key',
    );
  const agentName = validateNodeName(s('agent-name') ?? defaultNodeName(hostname()), '-agent-name');
  const expirationMs = duration(
    s('expiration'),
    'expiration',
    DEFAULT_EXPIRATION_MS,
    MIN_EXPIRATION_MS,
    MAX_EXPIRATION_MS,
  );
  const renewBefore = s('renew-before');
  const renewBeforeMs =
    renewBefore === undefined ? undefined : duration(renewBefore, 'renew-before', 0, 0, MAX_EXPIRATION_MS);
  if (renewBeforeMs !== undefined && renewBeforeMs >= expirationMs)
    throw usage(
      `-renew-before (${formatDuration(renewBeforeMs)}) must be shorter than -expiration (${formatDuration(expirationMs)})`,
      '-renew-before',
    );
  const kubeconfig = nonEmpty(s('kubeconfig'), 'kubeconfig');
  const context = nonEmpty(s('context'), 'context');
  const server = nonEmpty(s('server'), 'server');
  const caCert = nonEmpty(s('ca-cert'), 'ca-cert');
  const tokenFile = nonEmpty(s('token-file'), 'token-file');
  const inCluster = v['in-cluster'] === true;
  if (inCluster && (kubeconfig !== undefined || server !== undefined))
    throw usage('-in-cluster cannot be combined with -kubeconfig or -server', '-in-cluster');
  return {
    kind: 'run',
    options: {
      ...(kubeconfig !== undefined ? { kubeconfig } : {}),
      ...(context !== undefined ? { context } : {}),
      ...(server !== undefined ? { server } : {}),
      ...(caCert !== undefined ? { caCert } : {}),
      ...(clientCert !== undefined ? { clientCert } : {}),
      ...(clientKey !== undefined ? { clientKey } : {}),
      ...(tokenFile !== undefined ? { tokenFile } : {}),
      ...(renewBeforeMs !== undefined ? { renewBeforeMs } : {}),
      inCluster,
      agentName,
      idDir: nonEmpty(s('id-dir'), 'id-dir') ?? DEFAULT_ID_DIR,
      keyType: parseKeyType(s('key-type') ?? DEFAULT_KEY_TYPE, '-key-type'),
      expirationMs,
      timeoutMs: duration(s('timeout'), 'timeout', DEFAULT_TIMEOUT_MS, 1, MAX_TIMEOUT_MS),
      force: v.force === true,
      output: oneOf(s('output'), 'output', ['text', 'json'] as const, 'text'),
      logFormat: oneOf(s('log-format'), 'log-format', ['text', 'json'] as const, 'text'),
      logLevel: oneOf(s('log-level'), 'log-level', LOG_LEVELS, 'info'),
    },
  };
}

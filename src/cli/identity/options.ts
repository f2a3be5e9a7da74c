/**
 * The node-attestor command's flags: one table drives parsing, validation and --help, so the
 * help can never disagree with what is accepted. The 2018 prototype's flags and defaults
 * (-kubeconfig, -agent-name, -ca-cert, -client-cert, -client-key, -id-dir) are the contract.
 */
import { hostname } from 'node:os';
import {
  CLI_ID_DIR,
  DEFAULT_APPROVAL_TIMEOUT_MS,
  DEFAULT_EXPIRATION_MS,
  MAX_APPROVAL_TIMEOUT_MS,
  MAX_EXPIRATION_MS,
  MIN_EXPIRATION_MS,
} from '../../identity/defaults.js';
import type { IdentityRequest } from '../../identity/request.js';
import { DEFAULT_KEY_TYPE, KEY_TYPES, parseKeyType } from '../../csr/keys.js';
import { defaultNodeName, validateNodeName } from '../../csr/profile.js';
import { logFlagSpecs, logFlagsFrom, type LogFlags } from '../kit/log-flags.js';
import { formatDuration } from '../../util/duration.js';
import { durationFlag, nonEmpty, oneOf, parseFlags, usage, type FlagSpec } from '../kit/flag-kit.js';
import { kubeFlagSpecs, kubeFlagsFrom, type KubeFlags } from '../kit/kube-flags.js';
import {
  DEFAULT_WAIT_MODE,
  POLL_INITIAL_MS,
  POLL_MAX_MS,
  WAIT_MODES,
  type WaitMode,
} from '../../kube/wait-mode.js';

/** The Kubernetes-access fields are KubeAccessOptions', so the options go to resolveKubeAccess as they are. */
export interface CliOptions extends KubeFlags, LogFlags {
  readonly identity: IdentityRequest;
  /** How to wait for the certificate: watch the CSR, or read it by name (the narrow role). */
  readonly wait: WaitMode;
  readonly output: 'text' | 'json';
}

export type ParsedCommand =
  | { readonly kind: 'run'; readonly options: CliOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' };

type Group = 'Kubernetes access' | 'Identity document' | 'Output' | 'Other';

export const FLAGS: readonly FlagSpec<Group>[] = [
  ...kubeFlagSpecs(
    'client certificate of the user that creates the CSR (e.g. keys/node-attestor/spire-agent.crt)',
  ),
  {
    name: 'wait',
    type: 'string',
    arg: 'mode',
    group: 'Kubernetes access',
    help: `how to wait for approval: watch (the role needs watch on CSRs, which lets it read every CSR) or poll (read the CSR by name every ${formatDuration(POLL_INITIAL_MS)} rising to ${formatDuration(POLL_MAX_MS)}; needs only create and get: k8s-configs/narrow/). A refused watch (403) falls back to poll`,
    shownDefault: DEFAULT_WAIT_MODE,
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
    help: 'directory for id-doc.key (0600) and id-doc.crt (0644); created 0700; refused if a symlink, not yours, or replaceable by others',
    shownDefault: CLI_ID_DIR,
  },
  {
    name: 'key-type',
    type: 'string',
    arg: 'type',
    group: 'Identity document',
    help: `private key type: ${KEY_TYPES.join(', ')} (ed25519 suits the CLI alone: the SPIRE plugins prove possession the x509pop way, which needs RSA or ECDSA)`,
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
    shownDefault: formatDuration(DEFAULT_APPROVAL_TIMEOUT_MS),
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
  ...logFlagSpecs(),
  { name: 'help', type: 'boolean', group: 'Other', help: 'show this help' },
  { name: 'version', type: 'boolean', group: 'Other', help: 'print the version' },
];

export function parseCommandLine(argv: readonly string[]): ParsedCommand {
  const f = parseFlags(argv, FLAGS);
  if (f.help) return { kind: 'help' };
  if (f.bool('version', false)) return { kind: 'version' };
  const s = (name: string): string | undefined => f.string(name);
  const kube = kubeFlagsFrom(f);
  const agentName = validateNodeName(s('agent-name') ?? defaultNodeName(hostname()), '-agent-name');
  const expirationMs = durationFlag(s('expiration'), 'expiration', DEFAULT_EXPIRATION_MS, {
    min: MIN_EXPIRATION_MS,
    max: MAX_EXPIRATION_MS,
  });
  const renewBefore = s('renew-before');
  const renewBeforeMs =
    renewBefore === undefined
      ? undefined
      : durationFlag(renewBefore, 'renew-before', 0, { min: 0, max: MAX_EXPIRATION_MS });
  if (renewBeforeMs !== undefined && renewBeforeMs >= expirationMs)
    throw usage(
      `-renew-before (${formatDuration(renewBeforeMs)}) must be shorter than -expiration (${formatDuration(expirationMs)})`,
      '-renew-before',
    );
  return {
    kind: 'run',
    options: {
      ...kube,
      identity: {
        idDir: nonEmpty(s('id-dir'), 'id-dir') ?? CLI_ID_DIR,
        idDirSetting: '-id-dir',
        nodeName: agentName,
        keyType: parseKeyType(s('key-type') ?? DEFAULT_KEY_TYPE, '-key-type'),
        expirationSeconds: Math.round(expirationMs / 1000),
        approvalTimeoutMs: durationFlag(s('timeout'), 'timeout', DEFAULT_APPROVAL_TIMEOUT_MS, {
          max: MAX_APPROVAL_TIMEOUT_MS,
        }),
        force: f.bool('force', false),
        ...(renewBeforeMs !== undefined ? { renewBeforeMs } : {}),
      },
      wait: oneOf(s('wait'), 'wait', WAIT_MODES, DEFAULT_WAIT_MODE),
      output: oneOf(s('output'), 'output', ['text', 'json'] as const, 'text'),
      ...logFlagsFrom(f),
    },
  };
}

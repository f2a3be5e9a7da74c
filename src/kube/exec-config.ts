/**
 * The `exec` block of a kubeconfig user (client.authentication.k8s.io credential plugins, as
 * kubectl runs them for EKS, GKE, AKS and OIDC logins), read and checked with client-go's rules:
 * `command` and `apiVersion` are required, `interactiveMode` too for v1 (v1beta1 defaults it to
 * IfAvailable), and a relative command containing a slash is taken relative to the kubeconfig.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { AttestorError } from '../errors.js';

export const EXEC_API_VERSIONS = [
  'client.authentication.k8s.io/v1',
  'client.authentication.k8s.io/v1beta1',
] as const;
export type ExecApiVersion = (typeof EXEC_API_VERSIONS)[number];

export const INTERACTIVE_MODES = ['Never', 'IfAvailable', 'Always'] as const;
export type InteractiveMode = (typeof INTERACTIVE_MODES)[number];

export interface ExecConfig {
  readonly command: string;
  readonly args: readonly string[];
  /** Added to (and overriding) this process's environment. */
  readonly env: readonly { readonly name: string; readonly value: string }[];
  readonly apiVersion: ExecApiVersion;
  readonly installHint?: string;
  readonly provideClusterInfo: boolean;
  readonly interactiveMode: InteractiveMode;
  /** The kubeconfig user it belongs to, and where it is written, for messages. */
  readonly userName: string;
  readonly file: string;
}

type Raw = Readonly<Record<string, unknown>>;
const isRecord = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads `users[name=userName].user.exec` of `file`; ERR_INPUT naming the key when it is wrong. */
export function parseExecConfig(raw: unknown, file: string, userName: string): ExecConfig {
  const where = `users[name="${userName}"].user.exec`;
  const fail = (problem: string): AttestorError =>
    new AttestorError('ERR_INPUT', `kubeconfig ${file}: ${where}${problem}`, {
      details: { input: 'kubeconfig', file, user: userName },
    });
  if (!isRecord(raw)) throw fail(' must be a mapping');
  const optString = (key: string): string | undefined => {
    const v = raw[key];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw fail(`.${key} must be a string`);
    return v;
  };

  const command = optString('command');
  if (command === undefined) throw fail('.command is required: the credential plugin to run');
  const apiVersion = optString('apiVersion');
  if (apiVersion === undefined) throw fail(`.apiVersion is required (${EXEC_API_VERSIONS.join(' or ')})`);
  if (!(EXEC_API_VERSIONS as readonly string[]).includes(apiVersion))
    throw fail(`.apiVersion "${apiVersion}" is not supported; use ${EXEC_API_VERSIONS.join(' or ')}`);
  const version = apiVersion as ExecApiVersion;

  const modeRaw = optString('interactiveMode');
  if (modeRaw !== undefined && !(INTERACTIVE_MODES as readonly string[]).includes(modeRaw))
    throw fail(`.interactiveMode "${modeRaw}" is not one of ${INTERACTIVE_MODES.join(', ')}`);
  if (modeRaw === undefined && version === 'client.authentication.k8s.io/v1')
    throw fail(`.interactiveMode is required with ${version} (${INTERACTIVE_MODES.join(', ')})`);
  const interactiveMode = (modeRaw ?? 'IfAvailable') as InteractiveMode;

  const argsRaw = raw.args ?? [];
  if (!Array.isArray(argsRaw) || argsRaw.some((a) => typeof a !== 'string'))
    throw fail('.args must be a list of strings');
  const envRaw = raw.env ?? [];
  if (!Array.isArray(envRaw)) throw fail('.env must be a list of {name, value}');
  const env = envRaw.map((e: unknown, i) => {
    if (!isRecord(e) || typeof e.name !== 'string' || e.name === '' || typeof e.value !== 'string')
      throw fail(`.env[${i}] must have a name and a string value`);
    return { name: e.name, value: e.value };
  });
  const pci = raw.provideClusterInfo ?? false;
  if (typeof pci !== 'boolean') throw fail('.provideClusterInfo must be true or false');
  const installHint = optString('installHint');

  return {
    // Like client-go: "aws" is looked up on PATH, "./bin/aws" next to the kubeconfig.
    command: command.includes('/') && !isAbsolute(command) ? resolve(dirname(file), command) : command,
    args: argsRaw as string[],
    env,
    apiVersion: version,
    provideClusterInfo: pci,
    interactiveMode,
    userName,
    file,
    ...(installHint === undefined ? {} : { installHint }),
  };
}

/**
 * In-cluster configuration, as client-go's rest.InClusterConfig: the API server from
 * KUBERNETES_SERVICE_HOST/PORT, the service account's ca.crt, and its token. The token is only
 * located here, not read: callers re-read it for every request because projected tokens rotate.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { AttestorError } from '../errors.js';
import { parseServerUrl } from './server-url.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface InClusterOptions {
  /** Defaults to process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The mounted service account directory; overridable for tests. */
  readonly serviceAccountDir?: string;
  /** A token file other than the service account's (e.g. a projected token with a custom audience). */
  readonly tokenFile?: string;
}

export interface InClusterConfig {
  readonly server: URL;
  /** The service account's ca.crt. */
  readonly caFile: string;
  readonly tokenFile: string;
}

/** True when the environment looks like a pod (both service variables set). */
export function inClusterAvailable(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return (env.KUBERNETES_SERVICE_HOST ?? '') !== '' && (env.KUBERNETES_SERVICE_PORT ?? '') !== '';
}

export function loadInClusterConfig(opts: InClusterOptions = {}): InClusterConfig {
  const env = opts.env ?? process.env;
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT ?? '';
  if (host === '' || port === '')
    throw new AttestorError(
      'ERR_INPUT',
      'in-cluster configuration needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, which are set only inside a pod; outside one give a kubeconfig',
      { details: { input: 'in-cluster' } },
    );
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)
    throw new AttestorError(
      'ERR_INPUT',
      `KUBERNETES_SERVICE_PORT ${JSON.stringify(port)} is not a port number`,
      {
        details: { input: 'KUBERNETES_SERVICE_PORT' },
      },
    );
  const hostPart = isIP(host) === 6 ? `[${host}]` : host;
  const server = parseServerUrl(`https://${hostPart}:${port}`, 'KUBERNETES_SERVICE_HOST/PORT');

  const dir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const tokenFile = opts.tokenFile ?? join(dir, 'token');
  // Checked here so a pod without a mounted token fails at start with a clear message; the
  // content is read per request.
  if (!existsSync(tokenFile))
    throw new AttestorError(
      'ERR_INPUT',
      `in-cluster token file ${tokenFile} does not exist; mount a service account token (automountServiceAccountToken) or give a token file`,
      { details: { input: 'token-file', file: tokenFile } },
    );
  return { server, caFile: join(dir, 'ca.crt'), tokenFile };
}

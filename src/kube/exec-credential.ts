/**
 * The ExecCredential documents of the client.authentication.k8s.io API: the one given to a
 * plugin in KUBERNETES_EXEC_INFO, and the one it prints on stdout, checked as client-go checks
 * it. Nothing the plugin printed is ever quoted in a message: it holds the secret.
 */
import { AttestorError } from '../errors.js';
import type { KubeClientIdentity } from './client-identity.js';
import type { ExecApiVersion, ExecConfig } from './exec-config.js';
import { loadClientIdentity } from './pem.js';
import { Secret } from './secret.js';

/** The cluster as the plugin sees it (provideClusterInfo), from the resolved access. */
export interface ExecClusterInfo {
  readonly server: string;
  readonly caPem?: string;
  readonly tlsServerName?: string;
  readonly insecureSkipTlsVerify: boolean;
  /** The cluster's `client.authentication.k8s.io/exec` extension, passed through as is. */
  readonly config?: unknown;
}

export interface ExecResult {
  readonly token?: Secret<string>;
  readonly client?: KubeClientIdentity;
  /** status.expirationTimestamp in ms; absent means valid until the API server answers 401. */
  readonly expiresAt?: number;
}

/** How messages name the plugin: the command and the kubeconfig user. */
export function execLabel(cfg: Pick<ExecConfig, 'command' | 'userName'>): string {
  return `exec plugin "${cfg.command}" of kubeconfig user "${cfg.userName}"`;
}

export function execError(cfg: ExecConfig, problem: string, cause?: unknown): AttestorError {
  return new AttestorError('ERR_KUBE_CREDENTIALS', `${execLabel(cfg)}: ${problem}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { user: cfg.userName, command: cfg.command, kubeconfig: cfg.file },
  });
}

/** The KUBERNETES_EXEC_INFO value. */
export function execInfo(
  apiVersion: ExecApiVersion,
  interactive: boolean,
  cluster: ExecClusterInfo | undefined,
): string {
  return JSON.stringify({
    apiVersion,
    kind: 'ExecCredential',
    spec: {
      interactive,
      ...(cluster === undefined
        ? {}
        : {
            cluster: {
              server: cluster.server,
              ...(cluster.tlsServerName === undefined ? {} : { 'tls-server-name': cluster.tlsServerName }),
              ...(cluster.insecureSkipTlsVerify ? { 'insecure-skip-tls-verify': true } : {}),
              ...(cluster.caPem === undefined
                ? {}
                : { 'certificate-authority-data': Buffer.from(cluster.caPem).toString('base64') }),
              ...(cluster.config === undefined ? {} : { config: cluster.config }),
            },
          }),
    },
  });
}

const isRecord = (v: unknown): v is Readonly<Record<string, unknown>> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and checks what the plugin printed. */
export function parseExecOutput(cfg: ExecConfig, stdout: string): ExecResult {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    throw execError(cfg, 'its output on stdout is not an ExecCredential (not JSON)');
  }
  if (!isRecord(doc)) throw execError(cfg, 'its output on stdout is not an ExecCredential (not an object)');
  if (doc.kind !== 'ExecCredential')
    throw execError(cfg, `its output has kind ${JSON.stringify(doc.kind ?? null)}, not "ExecCredential"`);
  if (doc.apiVersion !== cfg.apiVersion)
    throw execError(
      cfg,
      `it returned apiVersion ${JSON.stringify(doc.apiVersion ?? null)} but the kubeconfig asks for "${cfg.apiVersion}"`,
    );
  const status = doc.status;
  if (!isRecord(status)) throw execError(cfg, 'it returned no status');
  const field = (key: string): string | undefined => {
    const v = status[key];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw execError(cfg, `status.${key} must be a string`);
    return v;
  };
  const token = field('token');
  const certPem = field('clientCertificateData');
  const keyPem = field('clientKeyData');
  if ((certPem === undefined) !== (keyPem === undefined))
    throw execError(
      cfg,
      `it returned ${certPem === undefined ? 'status.clientKeyData without status.clientCertificateData' : 'status.clientCertificateData without status.clientKeyData'}; a plugin must give both`,
    );
  if (token === undefined && certPem === undefined)
    throw execError(
      cfg,
      'it returned neither status.token nor status.clientCertificateData and status.clientKeyData',
    );
  const expiry = field('expirationTimestamp');
  const expiresAt = expiry === undefined ? undefined : Date.parse(expiry);
  if (expiresAt !== undefined && (!/^\d{4}-\d\d-\d\dT/.test(expiry ?? '') || Number.isNaN(expiresAt)))
    throw execError(cfg, `status.expirationTimestamp ${JSON.stringify(expiry)} is not an RFC 3339 time`);

  let client: KubeClientIdentity | undefined;
  if (certPem !== undefined && keyPem !== undefined) {
    const label = (key: string): { label: string } => ({ label: `${execLabel(cfg)}: status.${key}` });
    try {
      const id = loadClientIdentity(
        { data: certPem, source: label('clientCertificateData') },
        { data: keyPem, source: label('clientKeyData') },
      );
      client = {
        certPem: id.chain.pem,
        key: new Secret(id.key),
        subject: id.subject,
        source: execLabel(cfg),
      };
    } catch (err) {
      // The PEM reader names the field; only the code changes: this is a plugin failure.
      const message = err instanceof Error ? err.message : String(err);
      throw new AttestorError('ERR_KUBE_CREDENTIALS', message, {
        cause: err,
        details: { user: cfg.userName, command: cfg.command, kubeconfig: cfg.file },
      });
    }
  }
  return {
    ...(token === undefined ? {} : { token: new Secret(token) }),
    ...(client === undefined ? {} : { client }),
    ...(expiresAt === undefined ? {} : { expiresAt }),
  };
}

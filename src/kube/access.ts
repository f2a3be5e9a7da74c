/**
 * Turns the user's options into one resolved way of reaching the API server: where, which TLS
 * material, which credentials. Precedence follows the 2018 prototype and kubectl:
 *
 * 1. the base: `inCluster: true`; else the kubeconfig (explicit path, `KUBECONFIG`,
 *    `~/.kube/config`); else, with no kubeconfig (or one without a current context), `server`
 *    alone or the in-cluster environment;
 * 2. the flags then override the base: `server`, `caCert` (replaces the kubeconfig CA and clears
 *    its insecure-skip-tls-verify), `insecureSkipTlsVerify`; and credentials from flags
 *    (`clientCert`+`clientKey`, `tokenFile`) replace the base's credentials entirely: the
 *    kubeconfig user is then not even read, so one node-attestor cannot use (or an exec plugin
 *    that would run) does not stand in the way.
 *
 * All files are read and checked here, so a wrong path or a mismatched key fails before any
 * network traffic. Token files are read again for every request (rotation); exec plugins run on
 * the first request (credentials.ts, exec-credentials.ts).
 */
import { AttestorError } from '../errors.js';
import type { KubeClientIdentity } from './client-identity.js';
import { staticToken, tokenFileCredentials, type CredentialSource } from './credentials.js';
import type { ExecConfig } from './exec-config.js';
import { execCredentials } from './exec-credentials.js';
import { inClusterAvailable, loadInClusterConfig } from './in-cluster.js';
import {
  describeFiles,
  locateKubeconfig,
  mergeKubeconfigs,
  selectContext,
  type MaterialRef,
  type ResolvedKubeconfig,
} from './kubeconfig.js';
import {
  loadClientIdentity,
  parseCertificates,
  readMaterialFile,
  type CertificateBundle,
  type MaterialSource,
} from './pem.js';
import { Secret } from './secret.js';
import { displayServer, parseServerUrl } from './server-url.js';

export interface KubeAccessOptions {
  /** -kubeconfig: an explicit kubeconfig file (must exist). */
  readonly kubeconfig?: string;
  /** A kubeconfig context other than current-context. */
  readonly context?: string;
  /** The API server URL; overrides the kubeconfig's. */
  readonly server?: string;
  /** -ca-cert: a CA bundle, or the API server's own certificate (pinned). */
  readonly caCert?: string;
  /** -client-cert / -client-key: must be given together. */
  readonly clientCert?: string;
  readonly clientKey?: string;
  /** A bearer token file, re-read on every request. */
  readonly tokenFile?: string;
  /** Use the pod's service account (KUBERNETES_SERVICE_HOST/PORT, ca.crt, token). */
  readonly inCluster?: boolean;
  readonly insecureSkipTlsVerify?: boolean;
  /** Test seams: the environment (KUBECONFIG, KUBERNETES_SERVICE_*), home and SA directories. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly homeDir?: string;
  readonly serviceAccountDir?: string;
}

export type { KubeClientIdentity } from './client-identity.js';

export interface KubeTls {
  /** The trusted CA bundle (PEM); absent means Node's default (system) roots. */
  readonly caPem?: string;
  /** DER of every certificate in the CA bundle: a server presenting one of them is pinned. */
  readonly pinned: readonly Buffer[];
  /** Where the trust comes from, for error hints: e.g. `-ca-cert /x/ca.crt`. */
  readonly caSource: string;
  readonly insecureSkipTlsVerify: boolean;
  /** Name checked against the server certificate instead of the URL host (tls-server-name). */
  readonly serverName?: string;
  readonly client?: KubeClientIdentity;
}

export interface KubeAccess {
  readonly server: URL;
  /** e.g. "https://127.0.0.1:6443 as client certificate CN=spire-agent (kubeconfig /k, context "c")"; no secrets. */
  readonly description: string;
  readonly tls: KubeTls;
  /** Per-request credentials: a token, a token file, an exec plugin. */
  readonly credentials?: CredentialSource;
  readonly origin: 'kubeconfig' | 'in-cluster' | 'flags';
  /** Things callers should log as warnings (e.g. TLS verification disabled). */
  readonly warnings: readonly string[];
}

const NOTHING_CONFIGURED =
  'no Kubernetes API server configured: pass -kubeconfig <file> (or set KUBECONFIG, or create ~/.kube/config), or run in a pod with a service account';

function usage(message: string): AttestorError {
  return new AttestorError('ERR_USAGE', message);
}

function materialBytes(ref: MaterialRef): Buffer {
  return ref.kind === 'file' ? readMaterialFile(ref.path, ref.source) : ref.data.reveal();
}

function loadCa(data: Buffer, source: MaterialSource): { bundle: CertificateBundle; source: string } {
  return { bundle: parseCertificates(data, source), source: source.label };
}

interface Base {
  readonly origin: KubeAccess['origin'];
  readonly server?: URL;
  readonly ca?: { bundle: CertificateBundle; source: string };
  readonly insecure: boolean;
  readonly serverName?: string;
  readonly client?: KubeClientIdentity;
  readonly credentials?: CredentialSource;
  /** A kubeconfig exec plugin: made a CredentialSource once the server and CA are final. */
  readonly exec?: { readonly config: ExecConfig; readonly extension?: unknown };
  readonly where?: string;
}

function fromKubeconfig(k: ResolvedKubeconfig, userReplaced: boolean): Base {
  const files = describeFiles(k.files);
  const server = parseServerUrl(
    k.cluster.server,
    `kubeconfig ${files}: clusters[name="${k.clusterName}"].cluster.server`,
  );
  const caRef = k.cluster.certificateAuthority;
  const ca = caRef === undefined ? undefined : loadCa(materialBytes(caRef), caRef.source);
  const { clientCertificate, clientKey } = k.user;
  const client =
    clientCertificate !== undefined && clientKey !== undefined
      ? identity(
          { data: materialBytes(clientCertificate), source: clientCertificate.source },
          { data: materialBytes(clientKey), source: clientKey.source },
        )
      : undefined;
  const credentials =
    k.user.tokenFile !== undefined
      ? tokenFileCredentials(
          k.user.tokenFile,
          `users[name="${k.userName}"].user.tokenFile in kubeconfig ${files}`,
        )
      : k.user.token !== undefined
        ? staticToken(k.user.token, `the token of kubeconfig user "${k.userName}"`)
        : undefined;
  const exec =
    k.user.exec === undefined
      ? undefined
      : {
          config: k.user.exec,
          ...(k.cluster.execExtension === undefined ? {} : { extension: k.cluster.execExtension }),
        };
  const unused =
    userReplaced && k.userName !== '' ? `; its user "${k.userName}" is replaced by the flags` : '';
  return {
    origin: 'kubeconfig',
    server,
    insecure: k.cluster.insecureSkipTlsVerify,
    where: `kubeconfig ${files}, context "${k.contextName}"${unused}`,
    ...(ca === undefined ? {} : { ca }),
    ...(k.cluster.tlsServerName === undefined ? {} : { serverName: k.cluster.tlsServerName }),
    ...(client === undefined ? {} : { client }),
    ...(credentials === undefined ? {} : { credentials }),
    ...(exec === undefined ? {} : { exec }),
  };
}

function identity(
  cert: { data: Buffer; source: MaterialSource },
  key: { data: Buffer; source: MaterialSource },
): KubeClientIdentity {
  const id = loadClientIdentity(cert, key);
  return { certPem: id.chain.pem, key: new Secret(id.key), subject: id.subject, source: cert.source.label };
}

function fromInCluster(opts: KubeAccessOptions): Base {
  const cfg = loadInClusterConfig({
    ...(opts.env === undefined ? {} : { env: opts.env }),
    ...(opts.serviceAccountDir === undefined ? {} : { serviceAccountDir: opts.serviceAccountDir }),
    ...(opts.tokenFile === undefined ? {} : { tokenFile: opts.tokenFile }),
  });
  // ca.crt is only needed when no flag replaces it.
  const needCa = opts.caCert === undefined && opts.insecureSkipTlsVerify !== true;
  const caSource = { label: `in-cluster ca.crt ${cfg.caFile}`, file: cfg.caFile };
  const ca = needCa ? loadCa(readMaterialFile(cfg.caFile, caSource), caSource) : undefined;
  return {
    origin: 'in-cluster',
    server: cfg.server,
    insecure: false,
    where: 'in-cluster service account',
    credentials: tokenFileCredentials(cfg.tokenFile),
    ...(ca === undefined ? {} : { ca }),
  };
}

/** Whether the options carry credentials of their own, which replace the kubeconfig user's. */
function flagCredentials(opts: KubeAccessOptions): boolean {
  return opts.clientCert !== undefined || opts.tokenFile !== undefined;
}

function chooseBase(opts: KubeAccessOptions): Base {
  if (opts.inCluster === true) {
    if (opts.kubeconfig !== undefined && opts.kubeconfig !== '')
      throw usage('in-cluster configuration and a kubeconfig were both given; choose one');
    return fromInCluster(opts);
  }
  const located = locateKubeconfig({
    ...(opts.kubeconfig === undefined ? {} : { path: opts.kubeconfig }),
    ...(opts.env === undefined ? {} : { env: opts.env }),
    ...(opts.homeDir === undefined ? {} : { homeDir: opts.homeDir }),
  });
  if (located.files.length > 0) {
    const merged = mergeKubeconfigs(located.files);
    // Like client-go's deferred loading: a kubeconfig found implicitly that selects nothing
    // falls back to the flags or in-cluster; one the user named must work.
    const usable = opts.context !== undefined || merged.currentContext !== undefined;
    if (usable || located.explicit || (opts.server === undefined && !inClusterAvailable(opts.env)))
      return fromKubeconfig(
        selectContext(merged, opts.context, { readUser: !flagCredentials(opts) }),
        flagCredentials(opts),
      );
  }
  if (opts.context !== undefined)
    throw new AttestorError('ERR_INPUT', `context "${opts.context}" was given but no kubeconfig was found`, {
      details: { input: 'kubeconfig' },
    });
  if (opts.server !== undefined) return { origin: 'flags', insecure: false };
  if (inClusterAvailable(opts.env)) return fromInCluster(opts);
  throw new AttestorError('ERR_INPUT', NOTHING_CONFIGURED, { details: { input: 'kubeconfig' } });
}

export function resolveKubeAccess(opts: KubeAccessOptions): Promise<KubeAccess> {
  // Synchronous inside (start-up file reads); exec plugins run later, on the first request.
  return new Promise((resolve) => {
    resolve(resolveSync(opts));
  });
}

function resolveSync(opts: KubeAccessOptions): KubeAccess {
  if ((opts.clientCert === undefined) !== (opts.clientKey === undefined))
    throw usage(
      opts.clientCert === undefined
        ? '-client-key was given without -client-cert; give both'
        : '-client-cert was given without -client-key; give both',
    );
  if (opts.caCert !== undefined && opts.insecureSkipTlsVerify === true)
    throw usage('-ca-cert and insecure-skip-tls-verify were both given; choose one');

  const base = chooseBase(opts);
  const server = opts.server !== undefined ? parseServerUrl(opts.server, 'server') : base.server;
  if (server === undefined) throw new AttestorError('ERR_INPUT', NOTHING_CONFIGURED);

  let ca = base.ca;
  let insecure = base.insecure;
  if (opts.caCert !== undefined) {
    const source = { label: `-ca-cert ${opts.caCert}`, file: opts.caCert };
    ca = loadCa(readMaterialFile(opts.caCert, source), source);
    insecure = false;
  }
  if (opts.insecureSkipTlsVerify === true) {
    insecure = true;
    ca = undefined;
  }

  // Credentials from flags replace the base's (the kubeconfig user was not even read).
  let client = base.client;
  let credentials = base.credentials;
  if (flagCredentials(opts)) {
    client = undefined;
    credentials = undefined;
    if (opts.clientCert !== undefined && opts.clientKey !== undefined) {
      const certSource = { label: `-client-cert ${opts.clientCert}`, file: opts.clientCert };
      const keySource = { label: `-client-key ${opts.clientKey}`, file: opts.clientKey };
      client = identity(
        { data: readMaterialFile(opts.clientCert, certSource), source: certSource },
        { data: readMaterialFile(opts.clientKey, keySource), source: keySource },
      );
    }
    // In-cluster, the token file already stands in for the service account token.
    if (opts.tokenFile !== undefined)
      credentials = base.origin === 'in-cluster' ? base.credentials : tokenFileCredentials(opts.tokenFile);
  } else if (base.exec !== undefined) {
    credentials = execCredentials(base.exec.config, {
      cluster: {
        server: displayServer(server),
        insecureSkipTlsVerify: insecure,
        ...(ca === undefined ? {} : { caPem: ca.bundle.pem }),
        ...(base.serverName === undefined ? {} : { tlsServerName: base.serverName }),
        ...(base.exec.extension === undefined ? {} : { config: base.exec.extension }),
      },
    });
  }
  // Fail on an unreadable token file now rather than on the first request.
  credentials?.check?.();

  const warnings: string[] = [];
  if (insecure)
    warnings.push(
      `TLS verification of the Kubernetes API server at ${displayServer(server)} is disabled (insecure-skip-tls-verify); anyone on the network path can impersonate it`,
    );
  if (client === undefined && credentials === undefined)
    warnings.push('no client certificate or token is configured; requests to the API server are anonymous');

  const who = [
    ...(client === undefined ? [] : [`as client certificate ${client.subject}`]),
    ...(credentials === undefined ? [] : [`with the ${credentials.description}`]),
  ];
  const description = [
    displayServer(server),
    ...(who.length === 0 ? ['anonymously'] : who),
    ...(base.where === undefined ? [] : [`(${base.where})`]),
  ].join(' ');

  const tls: KubeTls = {
    pinned: ca === undefined ? [] : ca.bundle.certificates.map((c) => c.raw),
    caSource: ca === undefined ? 'the system trust store' : ca.source,
    insecureSkipTlsVerify: insecure,
    ...(ca === undefined ? {} : { caPem: ca.bundle.pem }),
    ...(base.serverName === undefined ? {} : { serverName: base.serverName }),
    ...(client === undefined ? {} : { client }),
  };
  return {
    server,
    description,
    tls,
    origin: base.origin,
    warnings,
    ...(credentials === undefined ? {} : { credentials }),
  };
}

/**
 * The kubeconfig subset node-attestor supports, loaded like kubectl does: an explicit file, else
 * the `KUBECONFIG` list merged (the first file to define a name wins, the first non-empty
 * current-context wins, missing files are skipped), else `~/.kube/config`. Relative paths in a
 * file are resolved against that file's directory before merging, as client-go does.
 *
 * Exec credential plugins are read here (exec-config.ts) and run later, on the first request.
 * Authentication Kubernetes clients dropped (auth-provider, username/password) and settings that
 * would silently change who we are or where we connect (impersonation, proxy) are rejected with a
 * message saying what to use instead, rather than ignored.
 */
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { AttestorError } from '../errors.js';
import { fileErrorReason } from '../util/file-error.js';
import { parseExecConfig, type ExecConfig } from './exec-config.js';
import { decodeBase64Field, type MaterialSource } from './pem.js';
import { Secret } from './secret.js';

/** Material given either as a file (read at load time) or inline base64 data. */
export type MaterialRef =
  | { readonly kind: 'file'; readonly path: string; readonly source: MaterialSource }
  | { readonly kind: 'data'; readonly data: Secret<Buffer>; readonly source: MaterialSource };

export interface KubeconfigCluster {
  readonly server: string;
  readonly certificateAuthority?: MaterialRef;
  readonly insecureSkipTlsVerify: boolean;
  readonly tlsServerName?: string;
  /** extensions[name="client.authentication.k8s.io/exec"]: given to exec plugins (provideClusterInfo). */
  readonly execExtension?: unknown;
}

export interface KubeconfigUser {
  readonly clientCertificate?: MaterialRef;
  readonly clientKey?: MaterialRef;
  readonly token?: Secret<string>;
  /** Re-read on every request, so rotated (projected) tokens keep working. */
  readonly tokenFile?: string;
  /** A credential plugin, run on the first request (never together with the fields above). */
  readonly exec?: ExecConfig;
}

export interface ResolvedKubeconfig {
  /** The files that were merged, in precedence order. */
  readonly files: readonly string[];
  readonly contextName: string;
  readonly clusterName: string;
  readonly userName: string;
  readonly cluster: KubeconfigCluster;
  /** Empty when the caller asked not to read the user (flags replace its credentials). */
  readonly user: KubeconfigUser;
}

export interface KubeconfigLocateOptions {
  /** An explicit file (-kubeconfig); it must exist. */
  readonly path?: string;
  /** Defaults to process.env; read for KUBECONFIG. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Defaults to os.homedir(); for ~/.kube/config. */
  readonly homeDir?: string;
}

/** The kubeconfig files that apply, and whether the user named them (then they must exist). */
export function locateKubeconfig(opts: KubeconfigLocateOptions = {}): {
  readonly files: readonly string[];
  readonly explicit: boolean;
} {
  if (opts.path !== undefined && opts.path !== '') return { files: [resolve(opts.path)], explicit: true };
  const env = opts.env ?? process.env;
  const list = env.KUBECONFIG;
  if (list !== undefined && list !== '') {
    const seen = new Set<string>();
    const files: string[] = [];
    for (const p of list.split(delimiter)) {
      if (p === '') continue;
      const abs = resolve(p);
      if (seen.has(abs) || !existsSync(abs)) continue;
      seen.add(abs);
      files.push(abs);
    }
    return { files, explicit: false };
  }
  const home = join(opts.homeDir ?? homedir(), '.kube', 'config');
  return { files: existsSync(home) ? [home] : [], explicit: false };
}

type Raw = Readonly<Record<string, unknown>>;

interface NamedEntry {
  readonly file: string;
  readonly body: Raw;
}

/** Several kubeconfig files merged with kubectl's first-wins rules. */
export interface MergedKubeconfig {
  readonly files: readonly string[];
  readonly currentContext: string | undefined;
  readonly contexts: ReadonlyMap<string, NamedEntry>;
  readonly clusters: ReadonlyMap<string, NamedEntry>;
  readonly users: ReadonlyMap<string, NamedEntry>;
}

const isRecord = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

function configError(file: string, problem: string, cause?: unknown): AttestorError {
  return new AttestorError('ERR_INPUT', `kubeconfig ${file}: ${problem}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { input: 'kubeconfig', file },
  });
}

function readOne(file: string): Raw {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw configError(file, `cannot read the file (${fileErrorReason(err)})`, err);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { logLevel: 'error' });
  } catch (err) {
    // yaml's messages quote the offending line, which could hold a token: give the position only.
    const pos = (err as { linePos?: readonly { line: number; col: number }[] }).linePos?.[0];
    throw configError(
      file,
      `not valid YAML${pos === undefined ? '' : ` (line ${pos.line}, column ${pos.col})`}`,
      undefined,
    );
  }
  if (doc === null || doc === undefined) return {};
  if (!isRecord(doc)) throw configError(file, 'not a kubeconfig (the top level is not a mapping)');
  return doc;
}

function namedList(file: string, doc: Raw, key: 'clusters' | 'users' | 'contexts'): [string, Raw][] {
  const list = doc[key];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw configError(file, `${key} must be a list`);
  const inner = key === 'clusters' ? 'cluster' : key === 'users' ? 'user' : 'context';
  return list.map((entry: unknown, i): [string, Raw] => {
    if (!isRecord(entry) || typeof entry.name !== 'string' || entry.name === '')
      throw configError(file, `${key}[${i}] has no name`);
    const body = entry[inner] ?? {};
    if (!isRecord(body))
      throw configError(file, `${key}[name=${JSON.stringify(entry.name)}].${inner} must be a mapping`);
    return [entry.name, body];
  });
}

/** Reads and merges `files` (in precedence order). */
export function mergeKubeconfigs(files: readonly string[]): MergedKubeconfig {
  const contexts = new Map<string, NamedEntry>();
  const clusters = new Map<string, NamedEntry>();
  const users = new Map<string, NamedEntry>();
  let currentContext: string | undefined;
  for (const file of files) {
    const doc = readOne(file);
    const cc = doc['current-context'];
    if (cc !== undefined && cc !== null && typeof cc !== 'string')
      throw configError(file, 'current-context must be a string');
    if (currentContext === undefined && typeof cc === 'string' && cc !== '') currentContext = cc;
    for (const [map, key] of [
      [contexts, 'contexts'],
      [clusters, 'clusters'],
      [users, 'users'],
    ] as const) {
      for (const [name, body] of namedList(file, doc, key)) if (!map.has(name)) map.set(name, { file, body });
    }
  }
  return { files, currentContext, contexts, clusters, users };
}

/** What `files` look like in a message: one path, or the KUBECONFIG list. */
export function describeFiles(files: readonly string[]): string {
  return files.join(delimiter);
}

function str(entry: NamedEntry, where: string, key: string): string | undefined {
  const v = entry.body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw configError(entry.file, `${where}.${key} must be a string`);
  return v === '' ? undefined : v;
}

function bool(entry: NamedEntry, where: string, key: string): boolean {
  const v = entry.body[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw configError(entry.file, `${where}.${key} must be true or false`);
  return v;
}

function material(
  entry: NamedEntry,
  where: string,
  fileKey: string,
  dataKey: string,
): MaterialRef | undefined {
  const path = str(entry, where, fileKey);
  const data = str(entry, where, dataKey);
  if (path !== undefined && data !== undefined)
    throw configError(entry.file, `${where} sets both ${fileKey} and ${dataKey}; keep one`);
  if (path !== undefined) {
    const abs = isAbsolute(path) ? path : resolve(dirname(entry.file), path);
    return {
      kind: 'file',
      path: abs,
      source: { label: `${abs} (${where}.${fileKey} in kubeconfig ${entry.file})`, file: abs },
    };
  }
  if (data !== undefined) {
    const source = { label: `kubeconfig ${entry.file}: ${where}.${dataKey}` };
    return { kind: 'data', data: new Secret(decodeBase64Field(data, source)), source };
  }
  return undefined;
}

/** Credentials given outside the kubeconfig replace its user, which is then not read at all. */
const OR_FLAGS =
  'or pass a client certificate or a token file (-client-cert/-client-key or -token-file), which replace the kubeconfig user';

/** The exec plugin that replaced each auth-provider Kubernetes clients dropped (1.26). */
const AUTH_PROVIDER_REPLACEMENTS: Readonly<Record<string, string>> = {
  gcp: 'gke-gcloud-auth-plugin (`gcloud components install gke-gcloud-auth-plugin`, then `gcloud container clusters get-credentials`)',
  azure: 'kubelogin (github.com/Azure/kubelogin: `kubelogin convert-kubeconfig`)',
  oidc: 'kubelogin (github.com/int128/kubelogin: `kubectl oidc-login setup`)',
};

export interface SelectContextOptions {
  /** false: do not read the user at all (the caller has credentials from flags). Default true. */
  readonly readUser?: boolean;
}

/**
 * Resolves one context of a merged kubeconfig (the current one unless `contextName` is given).
 * Only the selected cluster and user are validated, as kubectl does; with `readUser: false` not
 * even the user, so a kubeconfig user node-attestor cannot use does not stand in the way of
 * credentials given otherwise.
 */
export function selectContext(
  merged: MergedKubeconfig,
  contextName?: string,
  opts: SelectContextOptions = {},
): ResolvedKubeconfig {
  const where = describeFiles(merged.files);
  const available = [...merged.contexts.keys()];
  const availableText = available.length === 0 ? 'none defined' : `available: ${available.join(', ')}`;
  const name = contextName ?? merged.currentContext;
  if (name === undefined)
    throw new AttestorError(
      'ERR_INPUT',
      `kubeconfig ${where}: no current-context is set; choose a context (${availableText})`,
      { details: { input: 'kubeconfig', file: where, reason: 'no-current-context' } },
    );
  const ctx = merged.contexts.get(name);
  if (ctx === undefined)
    throw new AttestorError(
      'ERR_INPUT',
      `kubeconfig ${where}: context "${name}" not found (${availableText})`,
      {
        details: { input: 'kubeconfig', file: where, context: name },
      },
    );
  const ctxWhere = `contexts[name="${name}"].context`;
  const clusterName = str(ctx, ctxWhere, 'cluster');
  const userName = str(ctx, ctxWhere, 'user');
  if (clusterName === undefined) throw configError(ctx.file, `context "${name}" names no cluster`);
  const clusterEntry = merged.clusters.get(clusterName);
  if (clusterEntry === undefined)
    throw configError(ctx.file, `context "${name}" refers to cluster "${clusterName}", which is not defined`);
  const base = {
    files: merged.files,
    contextName: name,
    clusterName,
    userName: userName ?? '',
    cluster: readCluster(clusterEntry, clusterName),
  };
  if (opts.readUser === false) return { ...base, user: {} };
  const userEntry = userName === undefined ? undefined : merged.users.get(userName);
  if (userName !== undefined && userEntry === undefined)
    throw configError(ctx.file, `context "${name}" refers to user "${userName}", which is not defined`);
  return { ...base, user: userEntry === undefined ? {} : readUser(userEntry, userName ?? '') };
}

/** The `client.authentication.k8s.io/exec` cluster extension; other extensions are not ours to judge. */
function execExtension(entry: NamedEntry): unknown {
  const list = entry.body.extensions;
  if (!Array.isArray(list)) return undefined;
  const found: unknown = list.find(
    (e: unknown) => isRecord(e) && e.name === 'client.authentication.k8s.io/exec',
  );
  return isRecord(found) ? found.extension : undefined;
}

function readCluster(entry: NamedEntry, name: string): KubeconfigCluster {
  const where = `clusters[name="${name}"].cluster`;
  const server = str(entry, where, 'server');
  if (server === undefined) throw configError(entry.file, `cluster "${name}" has no server`);
  if (str(entry, where, 'proxy-url') !== undefined)
    throw configError(
      entry.file,
      `cluster "${name}" sets proxy-url, which node-attestor does not support; remove it and connect to the API server directly`,
    );
  const certificateAuthority = material(entry, where, 'certificate-authority', 'certificate-authority-data');
  const insecureSkipTlsVerify = bool(entry, where, 'insecure-skip-tls-verify');
  if (insecureSkipTlsVerify && certificateAuthority !== undefined)
    throw configError(
      entry.file,
      `cluster "${name}" sets both insecure-skip-tls-verify and a certificate authority; remove one`,
    );
  const tlsServerName = str(entry, where, 'tls-server-name');
  const extension = execExtension(entry);
  return {
    server,
    insecureSkipTlsVerify,
    ...(certificateAuthority === undefined ? {} : { certificateAuthority }),
    ...(tlsServerName === undefined ? {} : { tlsServerName }),
    ...(extension === undefined ? {} : { execExtension: extension }),
  };
}

function readUser(entry: NamedEntry, name: string): KubeconfigUser {
  const where = `users[name="${name}"].user`;
  const b = entry.body;
  if (b['auth-provider'] !== undefined && b['auth-provider'] !== null) {
    const provider =
      isRecord(b['auth-provider']) && typeof b['auth-provider'].name === 'string'
        ? b['auth-provider'].name
        : '?';
    const replacement = AUTH_PROVIDER_REPLACEMENTS[provider];
    throw configError(
      entry.file,
      `user "${name}" uses the auth-provider "${provider}", which Kubernetes clients no longer support (removed in 1.26); ${replacement === undefined ? 'use the exec credential plugin that replaces it (user.exec)' : `use its exec credential plugin instead: ${replacement}`}, ${OR_FLAGS}`,
    );
  }
  if (str(entry, where, 'username') !== undefined || str(entry, where, 'password') !== undefined)
    throw configError(
      entry.file,
      `user "${name}" uses username/password (basic) authentication, which the Kubernetes API server no longer accepts (removed in 1.19); use an exec credential plugin (user.exec), a client certificate, a token or a tokenFile, ${OR_FLAGS}`,
    );
  for (const key of ['as', 'as-uid', 'as-groups', 'as-user-extra'])
    if (b[key] !== undefined && b[key] !== null)
      throw configError(
        entry.file,
        `user "${name}" sets ${key} (impersonation), which node-attestor does not support; remove it`,
      );

  const clientCertificate = material(entry, where, 'client-certificate', 'client-certificate-data');
  const clientKey = material(entry, where, 'client-key', 'client-key-data');
  if ((clientCertificate === undefined) !== (clientKey === undefined))
    throw configError(
      entry.file,
      `user "${name}" sets ${clientCertificate === undefined ? 'a client key but no client certificate' : 'a client certificate but no client key'}; give both`,
    );
  const token = str(entry, where, 'token');
  const tokenFileRaw = str(entry, where, 'tokenFile');
  const tokenFile =
    tokenFileRaw === undefined
      ? undefined
      : isAbsolute(tokenFileRaw)
        ? tokenFileRaw
        : resolve(dirname(entry.file), tokenFileRaw);
  if (b.exec !== undefined && b.exec !== null) {
    // client-go lets a static token or certificate silently win over the plugin; say so instead.
    const other =
      token !== undefined
        ? 'token'
        : tokenFileRaw !== undefined
          ? 'tokenFile'
          : clientCertificate !== undefined
            ? 'a client certificate'
            : undefined;
    if (other !== undefined)
      throw configError(entry.file, `user "${name}" sets both exec and ${other}; keep one`);
    return { exec: parseExecConfig(b.exec, entry.file, name) };
  }
  return {
    ...(clientCertificate === undefined ? {} : { clientCertificate }),
    ...(clientKey === undefined ? {} : { clientKey }),
    ...(token === undefined ? {} : { token: new Secret(token) }),
    ...(tokenFile === undefined ? {} : { tokenFile }),
  };
}

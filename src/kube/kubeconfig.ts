/**
 * The kubeconfig subset node-attestor supports, loaded like kubectl does: an explicit file, else
 * the `KUBECONFIG` list merged (the first file to define a name wins, the first non-empty
 * current-context wins, missing files are skipped), else `~/.kube/config`. Relative paths in a
 * file are resolved against that file's directory before merging, as client-go does.
 *
 * Authentication that needs running code or an interactive flow (exec plugins, auth providers)
 * and settings that would silently change who we are or where we connect (impersonation, proxy)
 * are rejected with a message saying what to use instead, rather than ignored.
 */
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { AttestorError } from '../errors.js';
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
}

export interface KubeconfigUser {
  readonly clientCertificate?: MaterialRef;
  readonly clientKey?: MaterialRef;
  readonly token?: Secret<string>;
  /** Re-read on every request, so rotated (projected) tokens keep working. */
  readonly tokenFile?: string;
}

export interface ResolvedKubeconfig {
  /** The files that were merged, in precedence order. */
  readonly files: readonly string[];
  readonly contextName: string;
  readonly clusterName: string;
  readonly userName: string;
  readonly cluster: KubeconfigCluster;
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
    const code = (err as NodeJS.ErrnoException).code;
    throw configError(
      file,
      `cannot read the file (${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')})`,
      err,
    );
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

const UNSUPPORTED_INSTEAD =
  'use a client certificate (client-certificate/client-key), a token or a tokenFile, e.g. a service account token from `kubectl create token <name>`';

/**
 * Resolves one context of a merged kubeconfig (the current one unless `contextName` is given).
 * Only the selected cluster and user are validated, as kubectl does.
 */
export function selectContext(merged: MergedKubeconfig, contextName?: string): ResolvedKubeconfig {
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
  const userEntry = userName === undefined ? undefined : merged.users.get(userName);
  if (userName !== undefined && userEntry === undefined)
    throw configError(ctx.file, `context "${name}" refers to user "${userName}", which is not defined`);

  return {
    files: merged.files,
    contextName: name,
    clusterName,
    userName: userName ?? '',
    cluster: readCluster(clusterEntry, clusterName),
    user: userEntry === undefined ? {} : readUser(userEntry, userName ?? ''),
  };
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
  return {
    server,
    insecureSkipTlsVerify,
    ...(certificateAuthority === undefined ? {} : { certificateAuthority }),
    ...(tlsServerName === undefined ? {} : { tlsServerName }),
  };
}

function readUser(entry: NamedEntry, name: string): KubeconfigUser {
  const where = `users[name="${name}"].user`;
  const unsupported = (what: string): AttestorError =>
    configError(
      entry.file,
      `user "${name}" uses ${what}, which node-attestor does not support; ${UNSUPPORTED_INSTEAD}`,
    );
  const b = entry.body;
  if (b.exec !== undefined && b.exec !== null) {
    const command = isRecord(b.exec) && typeof b.exec.command === 'string' ? b.exec.command : '?';
    throw unsupported(`an exec credential plugin (${command})`);
  }
  if (b['auth-provider'] !== undefined && b['auth-provider'] !== null) {
    const provider =
      isRecord(b['auth-provider']) && typeof b['auth-provider'].name === 'string'
        ? b['auth-provider'].name
        : '?';
    throw unsupported(`the auth-provider "${provider}"`);
  }
  if (str(entry, where, 'username') !== undefined || str(entry, where, 'password') !== undefined)
    throw unsupported('username/password (basic) authentication');
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
  return {
    ...(clientCertificate === undefined ? {} : { clientCertificate }),
    ...(clientKey === undefined ? {} : { clientKey }),
    ...(token === undefined ? {} : { token: new Secret(token) }),
    ...(tokenFile === undefined ? {} : { tokenFile }),
  };
}

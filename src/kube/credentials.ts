/**
 * Where a request's credentials come from. The transport (http.ts) asks the source before every
 * request, and once more after a 401: a static token has nothing fresher, a token file is read
 * again (it may have rotated), an exec plugin is run again (exec-credentials.ts).
 */
import { readFile } from 'node:fs/promises';
import { fileErrorReason } from '../util/file-error.js';
import { AttestorError } from '../errors.js';
import type { KubeClientIdentity } from './client-identity.js';
import { readMaterialFile } from './pem.js';
import { Secret } from './secret.js';

export interface Credentials {
  readonly token?: Secret<string>;
  /** A client certificate that replaces the configured TLS identity (an exec plugin's result). */
  readonly client?: KubeClientIdentity;
}

export interface CredentialSource {
  /** In words, for descriptions and errors, e.g. `bearer token from token file /t`; never a secret. */
  readonly description: string;
  /** The token file, when the credentials come from one. */
  readonly file?: string;
  /** A synchronous start-up check (the token file is readable), so a bad path fails before any traffic. */
  check?(): void;
  /** The credentials for the next request. */
  get(signal?: AbortSignal): Promise<Credentials>;
  /**
   * A request sent with `used` was answered 401: credentials worth one more try, or undefined
   * when the source has nothing different to offer.
   */
  renew(used: Credentials, signal?: AbortSignal): Promise<Credentials | undefined>;
}

/** Whether two credential sets would authenticate the same way. */
export function sameCredentials(a: Credentials, b: Credentials): boolean {
  return a.token?.reveal() === b.token?.reveal() && a.client?.certPem === b.client?.certPem;
}

export function staticToken(token: Secret<string>, source: string): CredentialSource {
  const creds: Credentials = { token };
  return {
    description: `bearer token from ${source}`,
    get: () => Promise.resolve(creds),
    renew: () => Promise.resolve(undefined),
  };
}

/** A token file, read for every request (projected tokens rotate); ERR_INPUT naming it when it fails. */
export function tokenFileCredentials(path: string, where?: string): CredentialSource {
  const source = `token file ${path}${where === undefined ? '' : ` (${where})`}`;
  const details = { input: 'token file', file: path };
  const get = async (): Promise<Credentials> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new AttestorError('ERR_INPUT', `${source}: cannot read the file (${fileErrorReason(err)})`, {
        cause: err,
        details,
      });
    }
    const token = text.trim();
    if (token === '') throw new AttestorError('ERR_INPUT', `${source}: the file is empty`, { details });
    return { token: new Secret(token) };
  };
  return {
    description: `bearer token from ${source}`,
    file: path,
    check: () => {
      readMaterialFile(path, { label: source, file: path });
    },
    get,
    renew: async (used) => {
      const next = await get();
      return sameCredentials(next, used) ? undefined : next;
    },
  };
}

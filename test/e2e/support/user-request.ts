/** HTTPS requests to the API server as a non-admin user with a client certificate. */
import { readFileSync } from 'node:fs';
import { httpRequestText } from '../../harness/http-request.js';

export interface UserTls {
  readonly caPath: string;
  readonly certPath: string;
  readonly keyPath: string;
}

export async function userRequest(
  server: string,
  tls: UserTls,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const r = await httpRequestText(new URL(path, server), {
    method,
    tls: { ca: readFileSync(tls.caPath), cert: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) },
    body,
  });
  return { status: r.status, json: r.body === '' ? undefined : JSON.parse(r.body) };
}

/** HTTPS requests to the API server as a non-admin user with a client certificate. */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';

export interface UserTls {
  readonly caPath: string;
  readonly certPath: string;
  readonly keyPath: string;
}

export function userRequest(
  server: string,
  tls: UserTls,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      new URL(path, server),
      {
        method,
        ca: readFileSync(tls.caPath),
        cert: readFileSync(tls.certPath),
        key: readFileSync(tls.keyPath),
        headers: { Accept: 'application/json', ...(data ? { 'Content-Type': 'application/json' } : {}) },
      },
      (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (b += c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, json: b === '' ? undefined : JSON.parse(b) });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** The harness's one HTTP(S) client: a JSON body in, status and body text out. */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';

export interface HttpResult {
  readonly status: number;
  readonly body: string;
}

export interface HttpRequestOptions {
  readonly method?: string;
  /** TLS material and the like (ca, cert, key, rejectUnauthorized); ignored for http: URLs. */
  readonly tls?: Pick<RequestOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>;
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as JSON with `Content-Type: application/json`. */
  readonly body?: unknown;
  /** Fails the request after this long without activity. */
  readonly timeoutMs?: number;
}

export function httpRequestText(url: string | URL, o: HttpRequestOptions = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const data = o.body === undefined ? undefined : JSON.stringify(o.body);
    const https = u.protocol === 'https:';
    const req = (https ? httpsRequest : httpRequest)(
      u,
      {
        method: o.method ?? 'GET',
        ...(https ? o.tls : {}),
        ...(o.timeoutMs !== undefined ? { timeout: o.timeoutMs } : {}),
        headers: {
          Accept: 'application/json',
          ...(data !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...o.headers,
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${u.href}: timeout`)));
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * /healthz (the process is serving), /readyz (the controller's cache has synced: a replica that
 * cannot list its objects would be a useless leader) and /metrics (Prometheus text). Shared by
 * the approver and the signer. Plain HTTP: it carries no
 * secrets, and the kubelet probes and Prometheus scrape it inside the pod network.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AttestorError } from '../errors.js';

/** Prometheus text format 0.0.4, what prom-client's default registry type renders. */
const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface HealthSources {
  readonly ready: () => boolean;
  /** What /readyz says while not ready, e.g. "the CSR cache has not synced". */
  readonly notReadyReason?: string;
  /** The Prometheus text exposition (prom-client renders it asynchronously). */
  readonly metrics: () => Promise<string>;
}

export interface HealthServer {
  /** e.g. http://127.0.0.1:8080 (the real port when 0 was asked for). */
  readonly url: string;
  close(): Promise<void>;
}

/** host:port, :port or [v6]:port, as Go's net.Listen takes it; an empty host means all interfaces. */
export function parseListenAddress(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

export async function startHealthServer(address: string, src: HealthSources): Promise<HealthServer> {
  const parsed = parseListenAddress(address);
  if (parsed === undefined)
    throw new AttestorError(
      'ERR_USAGE',
      `-http-address ${JSON.stringify(address)} is not host:port (e.g. :8080, 127.0.0.1:8080)`,
    );
  // Loaded here: the CLI imports this module for parseListenAddress and must not pay for node:http.
  const { createServer } = process.getBuiltinModule('node:http');
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(code, {
        'Content-Type': type,
        'Content-Length': Buffer.byteLength(body),
        'Cache-Control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(405, 'method not allowed\n');
      return;
    }
    switch (path) {
      case '/healthz':
      case '/livez':
        reply(200, 'ok\n');
        return;
      case '/readyz':
        if (src.ready()) reply(200, 'ok\n');
        else reply(503, `not ready: ${src.notReadyReason ?? 'the cache has not synced'}\n`);
        return;
      case '/metrics':
        src.metrics().then(
          (text) => {
            reply(200, text, METRICS_CONTENT_TYPE);
          },
          (err: unknown) => {
            reply(500, `cannot render metrics: ${err instanceof Error ? err.message : String(err)}\n`);
          },
        );
        return;
      default:
        reply(404, 'not found\n');
    }
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        new AttestorError('ERR_IO', `cannot listen on -http-address ${address}: ${err.code ?? err.message}`, {
          cause: err,
          details: { input: '-http-address' },
        }),
      );
    };
    server.once('error', onError);
    server.listen(parsed.port, parsed.host === '' ? undefined : parsed.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    url: `http://${host}:${String(a.port)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

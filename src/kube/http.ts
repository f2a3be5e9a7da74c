/**
 * The Kubernetes transport: JSON requests and watch streams over node:https, with a per-request
 * timeout, AbortSignal support and every failure mapped to an AttestorError (kube-errors.ts).
 * Generic on purpose: the CSR API uses it now, reading Nodes or approving CSRs can later.
 *
 * Every request asks the access's credential source for credentials (credentials.ts); a 401
 * asks it once for fresher ones (a rotated token file, an exec plugin run again) and, if there
 * are any, sends the request again with them.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import { AttestorError } from '../errors.js';
import { silentLogger, type Logger } from '../log/logger.js';
import { abortError } from '../util/abort.js';
import type { KubeAccess } from './access.js';
import { AgentPool, type AgentLease } from './agent-pool.js';
import type { Credentials } from './credentials.js';
import {
  malformedError,
  oneLine,
  REQUEST_TIMEOUT,
  statusError,
  transportError,
  WATCH_STALLED,
  type RequestContext,
} from './kube-errors.js';
import { LineSplitter } from './lines.js';
import { connectHost, connectPort, displayServer } from './server-url.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One event of a watch stream, checked only for shape: `type` is a string, `object` an object. */
export interface WatchEvent {
  readonly type: string;
  readonly object: Readonly<Record<string, unknown>>;
}

export interface WatchOptions {
  /**
   * Treat the stream as dead after this long without a byte (a half-open connection would
   * otherwise wait forever). Defaults to the query's timeoutSeconds plus the request timeout.
   */
  readonly idleTimeoutMs?: number;
}

export interface KubeClient {
  readonly access: KubeAccess;
  /** `path` may carry a query. Resolves with the parsed body (undefined when empty). */
  requestJson(method: HttpMethod, path: string, body?: unknown, signal?: AbortSignal): Promise<unknown>;
  /**
   * GET `path?watch=1&<query>` as a stream of events. The iterable ends when the server ends the
   * stream; a malformed line is an ERR_KUBE_API error. Breaking out closes the connection.
   */
  watch(
    path: string,
    query: Readonly<Record<string, string>>,
    signal?: AbortSignal,
    opts?: WatchOptions,
  ): AsyncIterable<WatchEvent>;
  /** Destroys every connection (idle and in use); call once done with the client. */
  close(): void;
}

export interface KubeClientOptions {
  /** Per request: connect, headers and (for JSON requests) the whole body. Default 30 s. */
  readonly requestTimeoutMs?: number;
  readonly logger?: Logger;
  readonly userAgent?: string;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const MAX_WATCH_LINE_BYTES = 8 * 1024 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** One HTTP exchange: owns the request, its timer and its abort listener. */
class Exchange {
  res: IncomingMessage | undefined;
  #req: ClientRequest | undefined;
  readonly #leases: AgentLease[] = [];
  #timer: NodeJS.Timeout | undefined;
  #failure: Error | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => {
    this.fail(new AbortMarker());
  };

  constructor(signal: AbortSignal | undefined) {
    this.#signal = signal;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** The agent the request goes through; given back when the exchange closes. */
  hold(lease: AgentLease): void {
    this.#leases.push(lease);
  }

  attach(req: ClientRequest): void {
    this.#req = req;
    // Stopped while the request was being prepared (e.g. reading the token file).
    if (this.#failure !== undefined) req.destroy(this.#failure);
  }

  /** (Re)arms the timer: when it fires, the exchange fails with `code`. */
  arm(ms: number, code: string, message: string): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.fail(Object.assign(new Error(message), { code }));
    }, ms);
  }

  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Why the exchange was stopped, if it was (timeout, abort), else `err`. */
  cause(err: unknown): unknown {
    return this.#failure ?? err;
  }

  fail(err: Error): void {
    this.#failure ??= err;
    if (this.res !== undefined) this.res.destroy(err);
    this.#req?.destroy(err);
  }

  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#signal?.removeEventListener('abort', this.#onAbort);
    // A stream left early must not go back to the keep-alive pool half-read.
    if (this.res !== undefined && !this.res.complete) this.res.destroy();
    for (const l of this.#leases) l.release();
  }
}

class AbortMarker extends Error {
  constructor() {
    super('aborted');
  }
}

export function createKubeClient(access: KubeAccess, opts: KubeClientOptions = {}): KubeClient {
  const timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const logger = opts.logger ?? silentLogger;
  const userAgent = opts.userAgent ?? 'node-attestor';
  const agents = new AgentPool(access.tls, { connectTimeoutMs: timeoutMs });
  // Loaded with the first client, not at import (see createKubeAgent).
  const { request } = process.getBuiltinModule('node:https');
  const server = displayServer(access.server);
  const basePath = access.server.pathname.replace(/\/+$/, '');
  const source = access.credentials;
  const credentials = [
    ...(access.tls.client === undefined ? [] : [`client certificate ${access.tls.client.subject}`]),
    ...(source === undefined ? [] : [source.description]),
  ].join(' and ');

  const context = (method: string, path: string): RequestContext => ({
    server,
    host: access.tls.serverName ?? connectHost(access.server),
    method,
    path: path.split('?')[0] ?? path,
    caSource: access.tls.insecureSkipTlsVerify ? 'nothing (verification disabled)' : access.tls.caSource,
    credentials: credentials === '' ? 'no credentials' : credentials,
  });

  /**
   * Sends the request with the source's credentials; resolves once the response headers are in.
   * A 401 gets one more try when the source has fresher credentials.
   */
  async function open(
    ex: Exchange,
    method: HttpMethod,
    path: string,
    body: Buffer | undefined,
    ctx: RequestContext,
    signal: AbortSignal | undefined,
  ): Promise<IncomingMessage> {
    if (signal?.aborted === true) throw abortError(signal, `${method} ${ctx.path}`);
    const creds = source === undefined ? {} : await source.get(signal);
    const res = await sendWith(ex, creds, method, path, body);
    if (res.statusCode !== 401 || source === undefined) return res;
    ex.res = res;
    const raw = await readBody(res, ctx);
    ex.disarm();
    const fresh = await source.renew(creds, signal);
    if (fresh === undefined) {
      const parsed = parseJson(raw);
      throw statusError(401, parsed.ok ? parsed.value : undefined, ctx);
    }
    logger.debug('kubernetes request answered 401; sending it again with renewed credentials', {
      method,
      path: ctx.path,
    });
    return await sendWith(ex, fresh, method, path, body);
  }

  async function sendWith(
    ex: Exchange,
    creds: Credentials,
    method: HttpMethod,
    path: string,
    body: Buffer | undefined,
  ): Promise<IncomingMessage> {
    const token = creds.token;
    const lease = agents.acquire(creds.client);
    ex.hold(lease);
    const agent = lease.agent;
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'User-Agent': userAgent,
      ...(body === undefined
        ? {}
        : { 'Content-Type': 'application/json', 'Content-Length': String(body.length) }),
      ...(token === undefined ? {} : { Authorization: `Bearer ${token.reveal()}` }),
    };
    ex.arm(timeoutMs, REQUEST_TIMEOUT, `no response within ${timeoutMs / 1000}s`);
    return await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(
        {
          agent,
          host: connectHost(access.server),
          port: connectPort(access.server),
          method,
          path: `${basePath}${path}`,
          headers,
        },
        resolve,
      );
      ex.attach(req);
      req.on('error', reject);
      req.end(body);
    });
  }

  function mapError(
    ex: Exchange,
    err: unknown,
    ctx: RequestContext,
    signal: AbortSignal | undefined,
  ): AttestorError {
    const cause = ex.cause(err);
    if (cause instanceof AbortMarker && signal !== undefined)
      return abortError(signal, `${ctx.method} ${ctx.path}`);
    return transportError(cause, ctx);
  }

  async function readBody(res: IncomingMessage, ctx: RequestContext): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res) {
      const b = chunk as Buffer;
      size += b.length;
      if (size > MAX_BODY_BYTES)
        throw malformedError(`the response is larger than ${MAX_BODY_BYTES} bytes`, ctx);
      chunks.push(b);
    }
    return Buffer.concat(chunks);
  }

  function parseJson(raw: Buffer): { ok: true; value: unknown } | { ok: false } {
    try {
      return { ok: true, value: JSON.parse(raw.toString('utf8')) as unknown };
    } catch {
      return { ok: false };
    }
  }

  async function failWithStatus(res: IncomingMessage, ctx: RequestContext): Promise<never> {
    const raw = await readBody(res, ctx);
    const parsed = parseJson(raw);
    throw statusError(res.statusCode ?? 0, parsed.ok ? parsed.value : undefined, ctx);
  }

  async function requestJson(
    method: HttpMethod,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const ctx = context(method, path);
    const started = Date.now();
    const ex = new Exchange(signal);
    try {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const res = await open(ex, method, path, payload, ctx, signal);
      ex.res = res;
      const status = res.statusCode ?? 0;
      logger.debug('kubernetes request', { method, path: ctx.path, status, ms: Date.now() - started });
      if (status < 200 || status > 299) return await failWithStatus(res, ctx);
      const raw = await readBody(res, ctx);
      if (raw.length === 0) return undefined;
      const parsed = parseJson(raw);
      if (!parsed.ok) throw malformedError(`the response is not JSON (HTTP ${status})`, ctx);
      return parsed.value;
    } catch (err) {
      throw err instanceof AttestorError ? err : mapError(ex, err, ctx, signal);
    } finally {
      ex.close();
    }
  }

  async function* watch(
    path: string,
    query: Readonly<Record<string, string>>,
    signal?: AbortSignal,
    wopts: WatchOptions = {},
  ): AsyncGenerator<WatchEvent, void, undefined> {
    const fullPath = `${path}?${new URLSearchParams({ watch: '1', ...query }).toString()}`;
    const ctx = context('GET', path);
    const timeoutSeconds = Number(query.timeoutSeconds);
    const idleMs =
      wopts.idleTimeoutMs ??
      (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 ? timeoutSeconds * 1000 + timeoutMs : undefined);
    const ex = new Exchange(signal);
    try {
      const res = await open(ex, 'GET', fullPath, undefined, ctx, signal);
      ex.res = res;
      const status = res.statusCode ?? 0;
      logger.debug('kubernetes watch', { path: ctx.path, status, resourceVersion: query.resourceVersion });
      if (status < 200 || status > 299) await failWithStatus(res, ctx);
      const idle = (): void => {
        if (idleMs === undefined) ex.disarm();
        else
          ex.arm(
            idleMs,
            WATCH_STALLED,
            `the watch stream stalled (no data for ${Math.round(idleMs / 1000)}s)`,
          );
      };
      idle();
      const splitter = new LineSplitter(MAX_WATCH_LINE_BYTES);
      const parse = (line: string): WatchEvent | undefined => {
        if (line.trim() === '') return undefined;
        return parseWatchLine(line, ctx);
      };
      for await (const chunk of res) {
        idle();
        let lines: string[];
        try {
          lines = splitter.push(chunk as Buffer);
        } catch (err) {
          throw malformedError(`malformed watch stream: ${(err as Error).message}`, ctx, err);
        }
        for (const line of lines) {
          const ev = parse(line);
          if (ev !== undefined) yield ev;
        }
      }
      const rest = splitter.end();
      const last = rest === undefined ? undefined : parse(rest);
      if (last !== undefined) yield last;
    } catch (err) {
      throw err instanceof AttestorError ? err : mapError(ex, err, ctx, signal);
    } finally {
      ex.close();
    }
  }

  return {
    access,
    requestJson,
    watch,
    close: () => {
      agents.close();
    },
  };
}

function parseWatchLine(line: string, ctx: RequestContext): WatchEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw malformedError(`malformed watch event (not JSON): ${oneLine(line, 120)}`, ctx, err);
  }
  if (typeof value !== 'object' || value === null)
    throw malformedError('malformed watch event (not an object)', ctx);
  const v = value as Record<string, unknown>;
  const type = v.type;
  const object = v.object;
  if (typeof type !== 'string' || typeof object !== 'object' || object === null || Array.isArray(object))
    throw malformedError(`malformed watch event (no type or object): ${oneLine(line, 120)}`, ctx);
  return { type, object: object as Record<string, unknown> };
}

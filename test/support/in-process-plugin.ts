/**
 * Runs servePlugin inside the test process (processMode off: no handshake, no signal handlers,
 * no exit) and connects a FakeSpireHost to it, for fast tests of the host layer's services.
 */
import { Client, credentials, type ClientDuplexStream, type ServiceError, type status } from '@grpc/grpc-js';
import { createLogger } from '../../src/log/logger.js';
import { servePlugin } from '../../src/spire/host/serve-plugin.js';
import type { AgentNodeAttestor, PluginHandle, ServerNodeAttestor } from '../../src/spire/host/types.js';
import { FakeSpireHost, parseHclogLine, type HclogLine } from './fake-spire-host.js';

export interface InProcessPlugin {
  readonly handle: PluginHandle;
  readonly host: FakeSpireHost;
  /** Log lines so far, parsed and checked as hclog. */
  logs(): HclogLine[];
  /** Resolves with the first log line (already written or still to come) that matches. */
  waitForLog(pred: (l: HclogLine) => boolean): Promise<HclogLine>;
  close(): Promise<void>;
}

export async function startInProcess(
  opts:
    | { side: 'agent'; attestor: AgentNodeAttestor; maxMessageBytes?: number }
    | { side: 'server'; attestor: ServerNodeAttestor; maxMessageBytes?: number },
): Promise<InProcessPlugin> {
  const lines: string[] = [];
  const waiters = new Set<(l: HclogLine) => void>();
  const logger = createLogger({
    format: 'hclog',
    level: 'debug',
    write: (l) => {
      lines.push(l);
      const parsed = parseHclogLine(l.trimEnd());
      if (parsed !== undefined) for (const w of waiters) w(parsed);
    },
  });
  const logs = (): HclogLine[] =>
    lines.map((l) => parseHclogLine(l.trimEnd())).filter((l): l is HclogLine => l !== undefined);
  const common = {
    logger,
    processMode: false,
    ...(opts.maxMessageBytes ? { maxMessageBytes: opts.maxMessageBytes } : {}),
  };
  const handle =
    opts.side === 'agent'
      ? await servePlugin({ ...common, side: 'agent', attestor: opts.attestor })
      : await servePlugin({ ...common, side: 'server', attestor: opts.attestor });
  const host = FakeSpireHost.connect(handle.socketPath);
  return {
    handle,
    host,
    logs,
    waitForLog: (pred) => {
      const hit = logs().find(pred);
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise((resolve) => {
        const w = (l: HclogLine): void => {
          if (!pred(l)) return;
          waiters.delete(w);
          resolve(l);
        };
        waiters.add(w);
      });
    },
    close: async () => {
      host.close();
      await handle.stop();
    },
  };
}

/** A client that sends and receives raw bytes on any method path, to feed the server garbage. */
export function rawClient(socketPath: string): Client {
  return new Client(`unix://${socketPath}`, credentials.createInsecure());
}

export function rawBidi(client: Client, path: string): ClientDuplexStream<Buffer, Buffer> {
  return client.makeBidiStreamRequest(
    path,
    (b: Buffer) => b,
    (b: Buffer) => b,
  );
}

export function rawUnary(client: Client, path: string, body: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      (err: ServiceError | null, res?: Buffer) => {
        if (err) reject(err);
        else resolve(res ?? Buffer.alloc(0));
      },
    );
  });
}

/** Resolves with the final status code of a raw stream, collecting what it received. */
export function finalStatus(
  call: ClientDuplexStream<Buffer, Buffer>,
): Promise<{ code: status; details: string; received: Buffer[] }> {
  const received: Buffer[] = [];
  call.on('data', (b: Buffer) => received.push(b));
  call.on('error', () => undefined);
  return new Promise((resolve) => {
    call.on('status', (s: { code: status; details: string }) => {
      resolve({ code: s.code, details: s.details, received });
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

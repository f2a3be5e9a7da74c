/**
 * Serves one NodeAttestor half as a go-plugin gRPC plugin that an unmodified spire-server or
 * spire-agent loads: checks the launch environment, binds a plaintext gRPC server on a private
 * unix socket, registers every service the host uses, and only then prints the handshake line.
 * The process then lives until the host sends Shutdown (or SIGTERM); SIGINT is ignored because
 * the host runs Deinit and Shutdown itself, as go-plugin's own servers do.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { mkdtempSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgentNodeAttestorService } from './agent-service.js';
import { createBrokerService } from './broker.js';
import { ConfigGate, createConfigService } from './config-service.js';
import { createControllerService } from './controller.js';
import { checkHandshakeEnv, handshakeLine, reserveStdout } from './handshake.js';
import { createHealthService } from './health.js';
import { createInitService } from './init.js';
import { createServerNodeAttestorService } from './server-service.js';
import type { ServiceBinding } from './service.js';
import { createStdioService } from './stdio.js';
import { AttestorError } from '../../errors.js';
import { PLUGIN_SIDES, type PluginHandle, type ServePluginOptions } from './types.js';
import { raiseStreamResetLimit } from './http2-limits.js';

export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
/**
 * HTTP/2 streams the host may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS): the host's
 * gRPC client queues further calls until one ends. Each attestation in flight holds ~40 KB while
 * it waits for the agent, so this bounds the plugin's memory under any load, and keeps a flood of
 * attestations from reaching the V8 heap limit its launcher sets (scripts/build.mjs). Two streams
 * (broker, stdio) stay open for the plugin's life.
 */
export const MAX_CONCURRENT_STREAMS = 128;
/** Time given to in-flight calls at stop; go-plugin SIGKILLs 2 s after Shutdown. */
const STOP_GRACE_MS = 1000;
/** sun_path is 108 bytes on Linux (104 on some BSDs); stay under both with the file name. */
const MAX_SOCKET_PATH = 100;

/**
 * A private 0700 directory for the plugin's socket (other local users cannot connect to it) in
 * the first of `bases` where one can be made and the socket path fits: go-plugin's servers
 * honour PLUGIN_UNIX_SOCKET_DIR, then the temp directory.
 */
export function makeSocketDir(bases: readonly string[]): string {
  const tried: string[] = [];
  for (const base of new Set(bases)) {
    if (join(base, 'na-XXXXXX', 'plugin.sock').length > MAX_SOCKET_PATH) {
      tried.push(`${base} (path too long)`);
      continue;
    }
    try {
      return mkdtempSync(join(base, 'na-'));
    } catch (err) {
      tried.push(`${base} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  }
  throw new AttestorError(
    'ERR_IO',
    `cannot make the plugin's socket directory in ${tried.join(', ')}: give the plugin a writable /tmp (an emptyDir where the root filesystem is read-only) or set PLUGIN_UNIX_SOCKET_DIR to a writable directory`,
    { details: { input: 'PLUGIN_UNIX_SOCKET_DIR' } },
  );
}

function bind(server: Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (err) => {
      if (err) reject(err);
      else resolve();
    });
  });
}

function shutdownServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Exits once stderr has taken everything logged so far (pipes may be asynchronous). */
function flushAndExit(code: number): void {
  process.stderr.write('', () => process.exit(code));
}

export async function servePlugin(opts: ServePluginOptions): Promise<PluginHandle> {
  // A bin's argv decides the side; say so plainly if it is neither.
  if (!PLUGIN_SIDES.includes(opts.side)) {
    throw new AttestorError(
      'ERR_USAGE',
      `plugin side must be "agent" or "server", got ${JSON.stringify(opts.side)}`,
    );
  }
  const processMode = opts.processMode ?? true;
  const env = opts.env ?? process.env;
  const logger = opts.logger;

  let writeStdout: ((text: string) => Promise<void>) | undefined;
  if (processMode) {
    const problem = checkHandshakeEnv(env);
    if (problem !== undefined) {
      // Synchronous, so the line is out before we exit; there is nothing else to clean up yet.
      writeSync(2, `${problem}\n`);
      process.exit(1);
    }
    writeStdout = reserveStdout();
  }

  const gate = new ConfigGate();
  const broker = createBrokerService(logger);
  const stdio = createStdioService(logger);
  const health = createHealthService(logger);
  const attestorBinding: ServiceBinding =
    opts.side === 'agent'
      ? createAgentNodeAttestorService(opts.attestor, gate, logger)
      : createServerNodeAttestorService(opts.attestor, gate, logger);
  const configBinding = createConfigService(opts.attestor, gate, logger);

  let stopping: Promise<void> | undefined;
  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  const exitAfterStop = (why: string): void => {
    logger.debug('Stopping', { reason: why });
    void stop().then(() => {
      if (processMode) flushAndExit(0);
    });
  };

  const max = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const server = new Server({
    'grpc.max_receive_message_length': max,
    'grpc.max_send_message_length': max,
    // Nothing reads channelz here (no channelz service is served); its per-call bookkeeping
    // showed in the attestation profile.
    'grpc.enable_channelz': 0,
    'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS,
  });
  if (!raiseStreamResetLimit(server))
    logger.warn(
      'could not raise the HTTP/2 stream reset limit; sustained attestation rates above 33/s may fail',
    );
  const bindings: readonly ServiceBinding[] = [
    broker.binding,
    stdio.binding,
    health.binding,
    createControllerService(logger, () => {
      exitAfterStop('Shutdown');
    }),
    createInitService([attestorBinding.name, configBinding.name], logger),
    configBinding,
    attestorBinding,
  ];
  for (const b of bindings) server.addService(b.definition, b.implementation);

  let dir: string;
  try {
    dir = makeSocketDir([env.PLUGIN_UNIX_SOCKET_DIR, tmpdir(), '/tmp'].filter((d): d is string => !!d));
  } catch (err) {
    // SPIRE shows a plugin's stderr at its own log level only for hclog lines (plain lines only
    // at debug): without this one the operator sees only "Failed to read any lines from plugin's
    // stdout".
    logger.error(err instanceof Error ? err.message : String(err), { code: 'ERR_IO' });
    throw err;
  }
  const socketPath = join(dir, 'plugin.sock');
  const removeSocket = (): void => {
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await bind(server, `unix://${socketPath}`);
  } catch (err) {
    removeSocket();
    throw err;
  }

  function stop(): Promise<void> {
    stopping ??= (async () => {
      health.setNotServing();
      // Long-lived streams would hold tryShutdown open forever: end them ourselves.
      broker.open.endAll();
      stdio.open.endAll();
      health.open.endAll();
      await shutdownServer(server, STOP_GRACE_MS);
      removeSocket();
      logger.debug('Plugin server stopped');
      resolveClosed();
    })();
    return stopping;
  }

  if (processMode) {
    process.on('exit', removeSocket);
    process.on('SIGINT', () => {
      logger.debug('Ignoring SIGINT: the SPIRE host unloads its plugins itself');
    });
    process.once('SIGTERM', () => {
      exitAfterStop('SIGTERM');
    });
    // One attestation's stray promise must not take the plugin down with it.
    process.on('unhandledRejection', (reason) => {
      logger.error('Unhandled promise rejection', {
        error: reason instanceof Error ? reason.message : String(reason),
      });
    });
    process.on('uncaughtException', (err) => {
      logger.error('Uncaught exception; exiting', { error: err.message, stack: err.stack });
      removeSocket();
      flushAndExit(1);
    });
    // Only now that the server is bound: the host dials as soon as it reads this line.
    await writeStdout?.(handshakeLine(socketPath));
  }
  logger.debug('Plugin serving', {
    side: opts.side,
    name: opts.pluginName,
    socket: socketPath,
    services: bindings.map((b) => b.name).join(','),
  });

  return {
    side: opts.side,
    socketPath,
    brokerConnInfo: () => broker.connInfo(),
    configured: () => gate.configured,
    stop,
    closed,
  };
}

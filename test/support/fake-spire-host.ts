/**
 * A fake SPIRE host: launches a plugin process the way spire-server/spire-agent v1.13 do
 * (go-plugin's environment, handshake line on stdout, plaintext gRPC over the unix socket) and
 * drives the same call sequence: broker StartStream + ConnInfo{service 1}, StreamStdio, Init,
 * Configure, NodeAttestor streams, then Deinit, broker close, Shutdown and a 2 s wait for exit.
 * It also parses the plugin's stderr as hclog lines and checks the fields SPIRE depends on.
 * `FakeSpireHost.connect` drives an in-process server (no child process) with the same helpers.
 *
 * This is for fast tests only; the real proof is a real SPIRE loading the plugins (test/e2e).
 */
import {
  Channel,
  credentials,
  status,
  type ClientDuplexStream,
  type ClientReadableStream,
  Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { GRPCBrokerClient, type ConnInfo } from '../../src/gen/plugin/broker.js';
import { GRPCControllerClient } from '../../src/gen/plugin/controller.js';
import { GRPCStdioClient, type StdioData } from '../../src/gen/plugin/stdio.js';
import { HealthCheckResponse_ServingStatus, HealthClient } from '../../src/gen/grpc/health/v1/health.js';
import {
  NodeAttestorClient as AgentNodeAttestorClient,
  type Challenge,
  type PayloadOrChallengeResponse,
} from '../../src/gen/spire/plugin/agent/nodeattestor/v1/nodeattestor.js';
import {
  NodeAttestorClient as ServerNodeAttestorClient,
  type AgentAttributes,
  type AttestRequest,
  type AttestResponse,
} from '../../src/gen/spire/plugin/server/nodeattestor/v1/nodeattestor.js';
import { ConfigClient } from '../../src/gen/spire/service/common/config/v1/config.js';
import { InitClient } from '../../src/gen/spire/service/private/init/v1/init.js';

/** What SPIRE's server catalog offers in InitRequest.host_service_names. */
export const SERVER_HOST_SERVICES: readonly string[] = [
  'spire.hostservice.server.identityprovider.v1.IdentityProvider',
  'spire.hostservice.server.agentstore.v1.AgentStore',
  'spire.hostservice.common.metrics.v1.Metrics',
];
/** What SPIRE's agent catalog offers. */
export const AGENT_HOST_SERVICES: readonly string[] = ['spire.hostservice.common.metrics.v1.Metrics'];

export interface LaunchOptions {
  readonly command: string;
  readonly args: readonly string[];
  /** Added to this process's environment (undefined removes a variable), like SPIRE's os.Environ(). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** false launches without the magic cookie (default: NodeAttestor=NodeAttestor). */
  readonly cookie?: boolean;
  /** PLUGIN_PROTOCOL_VERSIONS (default "1"). */
  readonly protocolVersions?: string;
  /** SPIRE allows a minute; tests use less (default 30 s, the machine may be busy). */
  readonly handshakeTimeoutMs?: number;
}

export interface Handshake {
  readonly line: string;
  readonly network: string;
  readonly address: string;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface HclogLine {
  readonly '@level': string;
  readonly '@message': string;
  readonly '@timestamp'?: string;
  readonly [key: string]: unknown;
}

const HCLOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
/** Go layout 2006-01-02T15:04:05.000000Z07:00: exactly six fractional digits. */
const HCLOG_TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

/**
 * Checks one stderr line the way go-plugin + SPIRE read it; returns the parsed entry, undefined
 * for a non-JSON line, and throws for a JSON line that would be mis-logged or panic the host.
 */
export function parseHclogLine(line: string): HclogLine | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const rec = v as Record<string, unknown>;
  const level = rec['@level'];
  const message = rec['@message'];
  const ts = rec['@timestamp'];
  if (typeof message !== 'string') throw new Error(`hclog line with a non-string @message: ${line}`);
  if (typeof level !== 'string' || !HCLOG_LEVELS.includes(level.toLowerCase())) {
    throw new Error(`hclog line with a bad @level: ${line}`);
  }
  if (ts !== undefined && (typeof ts !== 'string' || !HCLOG_TIMESTAMP.test(ts))) {
    throw new Error(`hclog line whose @timestamp lacks exactly 6 fractional digits: ${line}`);
  }
  return rec as HclogLine;
}

/** A client-side bidi stream with promise-based receive. */
export class StreamSession<Req, Res> {
  private readonly queue: Res[] = [];
  private ended = false;
  private failure: ServiceError | undefined;
  private wake: (() => void) | undefined;
  /** The call's final status (also for failures). */
  readonly status: Promise<{ code: status; details: string }>;

  constructor(private readonly call: ClientDuplexStream<Req, Res>) {
    const notify = (): void => {
      const w = this.wake;
      this.wake = undefined;
      w?.();
    };
    call.on('data', (m: Res) => {
      this.queue.push(m);
      notify();
    });
    call.on('end', () => {
      this.ended = true;
      notify();
    });
    call.on('error', (e: ServiceError) => {
      this.failure = e;
      notify();
    });
    this.status = new Promise((resolve) => {
      call.on('status', (s: { code: status; details: string }) => {
        resolve({ code: s.code, details: s.details });
      });
    });
  }

  send(msg: Req): void {
    this.call.write(msg);
  }

  /** Half-close (CloseSend). */
  closeSend(): void {
    this.call.end();
  }

  cancel(): void {
    this.call.cancel();
  }

  /** The next message; undefined when the plugin ended the call OK; rejects with its error status. */
  async recv(): Promise<Res | undefined> {
    for (;;) {
      const m = this.queue.shift();
      if (m !== undefined) return m;
      if (this.failure) throw this.failure;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}

export interface AttestOutcome {
  readonly attributes: AgentAttributes;
  readonly challenges: readonly Buffer[];
}

export interface AidOutcome {
  readonly payload: Buffer;
  readonly responses: readonly Buffer[];
}

function unaryCall<Res>(run: (cb: (err: ServiceError | null, res?: Res) => void) => void): Promise<Res> {
  return new Promise((resolve, reject) => {
    run((err, res) => {
      if (err) reject(err);
      else if (res === undefined) reject(new Error('empty unary response'));
      else resolve(res);
    });
  });
}

export class FakeSpireHost {
  private readonly channel: Channel;
  private readonly init$: InitClient;
  private readonly config$: ConfigClient;
  private readonly health$: HealthClient;
  private readonly controller$: GRPCControllerClient;
  private readonly broker$: GRPCBrokerClient;
  private readonly stdio$: GRPCStdioClient;
  private readonly serverNA: ServerNodeAttestorClient;
  private readonly agentNA: AgentNodeAttestorClient;
  private brokerStream: ClientDuplexStream<ConnInfo, ConnInfo> | undefined;
  private stdioStream: ClientReadableStream<StdioData> | undefined;
  /** Status the broker/stdio streams ended with (undefined while open). */
  brokerStatus: status | undefined;
  stdioStatus: status | undefined;
  /** Settle with that status when the stream ends (set by startBroker / startStdio). */
  brokerEnded: Promise<status> | undefined;
  stdioEnded: Promise<status> | undefined;

  private constructor(
    readonly handshake: Handshake,
    private readonly child: ChildProcess | undefined,
    private readonly out: { stdoutAfter: string; stderr: string },
    readonly exited: Promise<ExitInfo>,
  ) {
    const target = `unix://${handshake.address}`;
    const creds = credentials.createInsecure();
    // One connection for every service, as go-plugin has; the host dials the literal authority "unused".
    this.channel = new Channel(target, creds, { 'grpc.default_authority': 'unused' });
    const opts = { channelOverride: this.channel };
    this.init$ = new InitClient(target, creds, opts);
    this.config$ = new ConfigClient(target, creds, opts);
    this.health$ = new HealthClient(target, creds, opts);
    this.controller$ = new GRPCControllerClient(target, creds, opts);
    this.broker$ = new GRPCBrokerClient(target, creds, opts);
    this.stdio$ = new GRPCStdioClient(target, creds, opts);
    this.serverNA = new ServerNodeAttestorClient(target, creds, opts);
    this.agentNA = new AgentNodeAttestorClient(target, creds, opts);
  }

  /** Spawns the plugin and reads its handshake; stdout must start with exactly that line. */
  static async launch(opts: LaunchOptions): Promise<FakeSpireHost> {
    const env: Record<string, string | undefined> = { ...process.env };
    env.NodeAttestor = opts.cookie === false ? undefined : 'NodeAttestor';
    Object.assign(env, {
      PLUGIN_MIN_PORT: '10000',
      PLUGIN_MAX_PORT: '25000',
      PLUGIN_PROTOCOL_VERSIONS: opts.protocolVersions ?? '1',
    });
    // undefined values stay undefined, which spawn leaves out of the child's environment.
    Object.assign(env, opts.env ?? {});
    const child = spawn(opts.command, [...opts.args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = { stdoutAfter: '', stderr: '' };
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      out.stderr += d;
    });
    const exited = new Promise<ExitInfo>((resolve) => {
      child.on('exit', (code, signal) => {
        resolve({ code, signal });
      });
    });
    const handshake = await new Promise<Handshake>((resolve, reject) => {
      let buf = '';
      let done = false;
      const timer = setTimeout(() => {
        finish(
          new Error(`no handshake within ${opts.handshakeTimeoutMs ?? 30_000} ms; stderr:\n${out.stderr}`),
        );
      }, opts.handshakeTimeoutMs ?? 30_000);
      const finish = (r: Handshake | Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (r instanceof Error) {
          child.kill('SIGKILL');
          reject(r);
        } else resolve(r);
      };
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d: string) => {
        if (done) {
          out.stdoutAfter += d;
          return;
        }
        buf += d;
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        out.stdoutAfter += buf.slice(nl + 1);
        // go-plugin reads the first line only; anything before the handshake breaks the load.
        const m = /^1\|1\|(unix)\|(\/[^|]+)\|grpc\|$/.exec(line);
        if (!m?.[1] || !m[2])
          finish(new Error(`stdout did not start with a handshake line: ${JSON.stringify(line)}`));
        else finish({ line, network: m[1], address: m[2] });
      });
      void exited.then((e) => {
        finish(
          new Error(`plugin exited before the handshake (${JSON.stringify(e)}); stderr:\n${out.stderr}`),
        );
      });
    });
    return new FakeSpireHost(handshake, child, out, exited);
  }

  /** Drives a plugin server already listening on `socketPath` (in-process tests). */
  static connect(socketPath: string): FakeSpireHost {
    return new FakeSpireHost(
      { line: '', network: 'unix', address: socketPath },
      undefined,
      { stdoutAfter: '', stderr: '' },
      new Promise<ExitInfo>(() => undefined),
    );
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Everything the plugin wrote to stdout after the handshake line (must stay empty). */
  get stdoutAfterHandshake(): string {
    return this.out.stdoutAfter;
  }

  get stderr(): string {
    return this.out.stderr;
  }

  /** Every JSON stderr line, validated as hclog (throws on one SPIRE would mis-read). */
  logs(): HclogLine[] {
    const out: HclogLine[] = [];
    for (const line of this.out.stderr.split('\n')) {
      const rec = line.trim() === '' ? undefined : parseHclogLine(line);
      if (rec) out.push(rec);
    }
    return out;
  }

  /** Stderr lines that are not JSON (SPIRE logs them raw at DEBUG). */
  rawStderrLines(): string[] {
    return this.out.stderr.split('\n').filter((l) => l.trim() !== '' && parseHclogLine(l) === undefined);
  }

  /**
   * The first stderr log line that matches, checked again each time the plugin writes to stderr;
   * rejects (with the stderr so far) if none has come within `timeoutMs`.
   */
  async waitForLog(pred: (l: HclogLine) => boolean, timeoutMs = 5000): Promise<HclogLine> {
    const hit = this.logs().find(pred);
    if (hit) return hit;
    const stderr = this.child?.stderr;
    if (!stderr) throw new Error('waitForLog needs a launched plugin (in-process plugins: use their own)');
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        stderr.off('data', check);
      };
      const check = (): void => {
        const found = this.logs().find(pred);
        if (found === undefined) return;
        done();
        resolve(found);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching log line within ${timeoutMs} ms; stderr:\n${this.stderr}`));
      }, timeoutMs);
      // Registered after the collector in launch(), so this.stderr already holds the new data.
      stderr.on('data', check);
    });
  }

  /** Opens GRPCBroker/StartStream and sends ConnInfo{1, unix, address}, as go-plugin's Accept(1) does. */
  startBroker(address = '/tmp/plugin-host-services'): void {
    const s = this.broker$.startStream();
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    this.brokerEnded = new Promise((resolve) => {
      s.on('status', (st: { code: status }) => {
        this.brokerStatus = st.code;
        resolve(st.code);
      });
    });
    s.write({ serviceId: 1, network: 'unix', address });
    this.brokerStream = s;
  }

  startStdio(): void {
    const s = this.stdio$.streamStdio({});
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    this.stdioEnded = new Promise((resolve) => {
      s.on('status', (st: { code: status }) => {
        this.stdioStatus = st.code;
        resolve(st.code);
      });
    });
    this.stdioStream = s;
  }

  init(hostServiceNames: readonly string[] = SERVER_HOST_SERVICES): Promise<string[]> {
    return unaryCall<{ pluginServiceNames: string[] }>((cb) =>
      this.init$.init({ hostServiceNames: [...hostServiceNames] }, cb),
    ).then((r) => r.pluginServiceNames);
  }

  async configure(trustDomain: string, hcl: string): Promise<void> {
    await unaryCall((cb) =>
      this.config$.configure({ coreConfiguration: { trustDomain }, hclConfiguration: hcl }, cb),
    );
  }

  validate(trustDomain: string, hcl: string): Promise<{ valid: boolean; notes: string[] }> {
    return unaryCall((cb) =>
      this.config$.validate({ coreConfiguration: { trustDomain }, hclConfiguration: hcl }, cb),
    );
  }

  /**
   * The load sequence of SPIRE's catalog: broker stream + ConnInfo, stdio stream, Init,
   * Configure. Returns Init's plugin service names.
   */
  async load(opts: {
    trustDomain: string;
    hcl: string;
    hostServiceNames?: readonly string[];
  }): Promise<string[]> {
    this.startBroker();
    this.startStdio();
    const names = await this.init(opts.hostServiceNames);
    await this.configure(opts.trustDomain, opts.hcl);
    return names;
  }

  async health(service: string): Promise<HealthCheckResponse_ServingStatus> {
    const r = await unaryCall<{ status: HealthCheckResponse_ServingStatus }>((cb) =>
      this.health$.check({ service }, cb),
    );
    return r.status;
  }

  watchHealth(service: string): ClientReadableStream<{ status: HealthCheckResponse_ServingStatus }> {
    return this.health$.watch({ service });
  }

  openAttest(metadata?: Record<string, string>): StreamSession<AttestRequest, AttestResponse> {
    const md = new Metadata();
    // SPIRE forwards the agent's :authority host unauthenticated.
    md.set('x-untrusted-forwarded-host', 'agent.example');
    for (const [k, v] of Object.entries(metadata ?? {})) md.set(k, v);
    return new StreamSession(this.serverNA.attest(md));
  }

  /**
   * The server-side flow of SPIRE's nodeattestor v1 facade: payload, then each challenge relayed
   * to `answer` (the agent), until agent_attributes, then cancel. Rejects with the plugin's status.
   */
  async attest(
    payload: Buffer,
    answer: (challenge: Buffer) => Buffer | Promise<Buffer> = (c) => Buffer.from(`echo:${c.toString()}`),
    metadata?: Record<string, string>,
  ): Promise<AttestOutcome> {
    const s = this.openAttest(metadata);
    s.send({ request: { $case: 'payload', payload } });
    const challenges: Buffer[] = [];
    try {
      for (;;) {
        const r = await s.recv();
        if (r === undefined) throw new Error('plugin closed stream unexpectedly');
        if (r.response?.$case === 'agentAttributes')
          return { attributes: r.response.agentAttributes, challenges };
        if (r.response?.$case !== 'challenge')
          throw new Error('plugin response missing challenge or agent attributes');
        challenges.push(r.response.challenge);
        s.send({
          request: { $case: 'challengeResponse', challengeResponse: await answer(r.response.challenge) },
        });
      }
    } finally {
      s.cancel();
    }
  }

  openAidAttestation(): StreamSession<Challenge, PayloadOrChallengeResponse> {
    return new StreamSession(this.agentNA.aidAttestation());
  }

  /**
   * The agent-side flow of SPIRE's facade: wait for the payload, send each server challenge
   * (computed from the payload) and read its response, then cancel.
   */
  async aidAttestation(
    serverChallenges: (payload: Buffer) => readonly Buffer[] = () => [],
  ): Promise<AidOutcome> {
    const s = this.openAidAttestation();
    try {
      const first = await s.recv();
      if (first === undefined) throw new Error('plugin closed stream before returning attestation data');
      if (first.data?.$case !== 'payload' || first.data.payload.length === 0) {
        throw new Error('plugin response missing attestation payload');
      }
      const responses: Buffer[] = [];
      for (const challenge of serverChallenges(first.data.payload)) {
        s.send({ challenge });
        const r = await s.recv();
        if (r === undefined) throw new Error('plugin closed stream before handling the challenge');
        if (r.data?.$case !== 'challengeResponse' || r.data.challengeResponse.length === 0) {
          throw new Error('plugin response missing challenge response');
        }
        responses.push(r.data.challengeResponse);
      }
      return { payload: first.data.payload, responses };
    } finally {
      s.cancel();
    }
  }

  async deinit(): Promise<void> {
    await unaryCall((cb) => this.init$.deinit({}, cb));
  }

  /**
   * go-plugin's Kill: close the broker stream, call Shutdown (errors ignored), close the
   * connection, then wait up to `graceMs` (2 s in go-plugin) for the process to exit.
   * Resolves with the exit, or with graceful=false after a SIGKILL.
   */
  async shutdown(graceMs = 2000): Promise<ExitInfo & { graceful: boolean; ms: number }> {
    const started = Date.now();
    this.brokerStream?.end();
    await unaryCall((cb) => this.controller$.shutdown({}, cb)).catch(() => undefined);
    this.close();
    if (!this.child) return { code: null, signal: null, graceful: true, ms: Date.now() - started };
    const timeout = new Promise<'timeout'>((r) => {
      setTimeout(() => {
        r('timeout');
      }, graceMs).unref();
    });
    const result = await Promise.race([this.exited, timeout]);
    if (result === 'timeout') {
      this.child.kill('SIGKILL');
      const e = await this.exited;
      return { ...e, graceful: false, ms: Date.now() - started };
    }
    return { ...result, graceful: true, ms: Date.now() - started };
  }

  /** SPIRE's unload order: Deinit, then go-plugin's Kill. */
  async unload(): Promise<ExitInfo & { graceful: boolean; ms: number }> {
    await this.deinit();
    return this.shutdown();
  }

  signal(sig: NodeJS.Signals): void {
    this.child?.kill(sig);
  }

  /** Closes the connection (not the process). */
  close(): void {
    this.stdioStream?.cancel();
    this.brokerStream?.cancel();
    this.channel.close();
  }

  /** Last-resort cleanup for tests: close, then SIGTERM (so the socket is removed), then SIGKILL. */
  async dispose(): Promise<void> {
    this.close();
    if (this.child?.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 2000);
    await this.exited;
    clearTimeout(timer);
  }
}

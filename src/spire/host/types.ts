/**
 * The contract between the plugin host layer (src/spire) and the attestation logic: the two
 * NodeAttestor halves implement these interfaces and servePlugin does everything else.
 */
import type { Logger } from '../../log/logger.js';

export type PluginSide = 'agent' | 'server';
export const PLUGIN_SIDES: readonly PluginSide[] = ['agent', 'server'];

export interface ConfigureInput {
  /** The bare trust domain name from SPIRE's core configuration, e.g. "example.org" (validated). */
  readonly trustDomain: string;
  /** The raw hcl_configuration text: re-printed HCL v1 plugin_data, or a plugin_data_file (HCL or JSON). */
  readonly hcl: string;
}

export interface ValidateResult {
  readonly valid: boolean;
  readonly notes: string[];
}

export interface AgentAttributes {
  readonly spiffeId: string;
  readonly selectorValues: readonly string[];
  readonly canReattest: boolean;
}

export interface ChallengeOptions {
  /**
   * Stops waiting for the response: challenge() then rejects with the signal's reason (an
   * AttestorError, whose code decides the call's status), and the call is ended with it.
   */
  readonly signal?: AbortSignal;
}

export interface ServerAttestContext {
  /** Sends one challenge to the agent and resolves with its response (rejects if the stream ends/cancels). */
  challenge(challenge: Buffer, options?: ChallengeOptions): Promise<Buffer>;
  /** gRPC metadata of the Attest call (lower-cased keys, e.g. SPIRE 1.15's x-forwarded-client-ip). */
  readonly metadata: ReadonlyMap<string, string>;
  /** Aborted when the host cancels the stream. */
  readonly signal: AbortSignal;
}

/**
 * configure() may be called again at any time (SPIRE re-sends on SIGUSR1 when a
 * plugin_data_file changed) while attestations run: apply a new configuration atomically and
 * keep the previous one when it throws. Calls are never concurrent with each other.
 */
export interface ServerNodeAttestor {
  /** Throws AttestorError (ERR_CONFIG etc.). */
  configure(input: ConfigureInput): Promise<void>;
  /** Without it, Validate checks only the trust domain and the configuration syntax. */
  validate?(input: ConfigureInput): Promise<ValidateResult>;
  attest(payload: Buffer, ctx: ServerAttestContext): Promise<AgentAttributes>;
}

export interface AgentAttestation {
  readonly payload: Buffer;
  answer(challenge: Buffer): Promise<Buffer>;
}

export interface AgentNodeAttestor {
  configure(input: ConfigureInput): Promise<void>;
  validate?(input: ConfigureInput): Promise<ValidateResult>;
  /**
   * Called once per AidAttestation stream: get the payload to send first, then answer each
   * challenge. `signal` is aborted when the host cancels or ends the stream.
   */
  begin(signal: AbortSignal): Promise<AgentAttestation>;
}

/** A ConnInfo the host sent on the broker stream (its host-services listener). */
export interface BrokerConnInfo {
  readonly serviceId: number;
  readonly network: string;
  readonly address: string;
}

export interface PluginHandle {
  readonly side: PluginSide;
  /** The unix socket the gRPC server listens on. */
  readonly socketPath: string;
  /** What the host sent on the broker stream so far (SPIRE sends one, service 1). */
  readonly brokerConnInfo: () => readonly BrokerConnInfo[];
  /** Whether a Configure has succeeded. */
  readonly configured: () => boolean;
  /** Stops serving (open streams end) and removes the socket; does not exit the process. */
  stop(): Promise<void>;
  /** Settles when the server has stopped, for whatever reason. */
  readonly closed: Promise<void>;
}

interface ServePluginCommon {
  /** The configured plugin name, for log lines only (SPIRE never tells the plugin its name). */
  readonly pluginName?: string;
  readonly logger: Logger;
  /**
   * Largest gRPC message accepted, in bytes (default 1 MiB): payloads are certificate chains of
   * a few KiB, and the limit keeps a hostile or broken host from making us buffer gigabytes.
   */
  readonly maxMessageBytes?: number;
  /**
   * Process integration, on by default: the magic-cookie check, the handshake line on stdout,
   * stdout reserved (console output goes to stderr), SIGINT ignored, SIGTERM and Shutdown
   * ending the process. Tests that embed the server set it to false.
   */
  readonly processMode?: boolean;
  /** Environment for the handshake checks (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export type ServePluginOptions =
  | (ServePluginCommon & { readonly side: 'agent'; readonly attestor: AgentNodeAttestor })
  | (ServePluginCommon & { readonly side: 'server'; readonly attestor: ServerNodeAttestor });

/**
 * The plugin host's public surface: what an attestor folder (k8s-csr/, and any next one) and its
 * entry point in src/bin use. Everything else under host/ is the host's own business.
 */
export { servePlugin, DEFAULT_MAX_MESSAGE_BYTES } from './serve-plugin.js';
export { PLUGIN_SIDES } from './types.js';
export type {
  AgentAttestation,
  AgentAttributes,
  AgentNodeAttestor,
  BrokerConnInfo,
  ConfigureInput,
  PluginHandle,
  PluginSide,
  ServePluginOptions,
  ServerAttestContext,
  ServerNodeAttestor,
  ValidateResult,
} from './types.js';
export { ConfigReader, type DurationBounds, type IntBounds } from './config-reader.js';
export { parseConfigText, parseHcl, formatKeyPath, type HclObject, type HclValue } from './hcl.js';
export { stderrLineBatcher } from './line-batcher.js';
export { grpcCodeFor } from './grpc-status.js';
export { AGENT_NODE_ATTESTOR_SERVICE } from './agent-service.js';
export { SERVER_NODE_ATTESTOR_SERVICE } from './server-service.js';
export { MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE } from './handshake.js';

// Entry point of the k8s_csr SPIRE server NodeAttestor plugin (dist/k8s-csr-server-plugin.mjs):
// spire-server starts it as plugin_cmd and speaks go-plugin's gRPC protocol with it.
import { createLogger } from '../log/logger.js';
import { servePlugin, stderrLineBatcher } from '../spire/host/index.js';
import { createK8sCsrServer } from '../spire/k8s-csr/server/k8s-csr-server.js';

const logger = createLogger({
  format: 'hclog',
  level: 'debug',
  module: 'k8s_csr.server',
  // A line per attestation: batched per event-loop turn (see line-batcher.ts).
  write: stderrLineBatcher().write,
});
await servePlugin({ side: 'server', attestor: createK8sCsrServer(logger), logger });

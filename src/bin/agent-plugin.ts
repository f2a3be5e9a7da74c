// Entry point of the k8s_csr SPIRE agent NodeAttestor plugin (dist/k8s-csr-agent-plugin.mjs):
// spire-agent starts it as plugin_cmd and speaks go-plugin's gRPC protocol with it.
import { createLogger } from '../log/logger.js';
import { servePlugin } from '../spire/host/index.js';
import { createK8sCsrAgent } from '../spire/k8s-csr/agent/k8s-csr-agent.js';

const logger = createLogger({ format: 'hclog', level: 'debug', module: 'k8s_csr.agent' });
await servePlugin({ side: 'agent', attestor: createK8sCsrAgent(logger), logger });

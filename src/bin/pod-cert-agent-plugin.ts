// Entry point of the k8s_pod_cert SPIRE agent NodeAttestor plugin: spire-agent starts it as
// plugin_cmd and speaks go-plugin's gRPC protocol with it.
import { createLogger } from '../log/logger.js';
import { servePlugin } from '../spire/host/index.js';
import { createK8sPodCertAgent } from '../spire/k8s-pod-cert/agent/k8s-pod-cert-agent.js';

const logger = createLogger({ format: 'hclog', level: 'debug', module: 'k8s_pod_cert.agent' });
await servePlugin({ side: 'agent', attestor: createK8sPodCertAgent(logger), logger });

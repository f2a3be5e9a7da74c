// Entry point of the k8s_pod_cert SPIRE server NodeAttestor plugin: spire-server starts it as
// plugin_cmd and speaks go-plugin's gRPC protocol with it.
import { createLogger } from '../log/logger.js';
import { servePlugin, stderrLineBatcher } from '../spire/host/index.js';
import { createK8sPodCertServer } from '../spire/k8s-pod-cert/server/k8s-pod-cert-server.js';

const logger = createLogger({
  format: 'hclog',
  level: 'debug',
  module: 'k8s_pod_cert.server',
  write: stderrLineBatcher().write,
});
await servePlugin({ side: 'server', attestor: createK8sPodCertServer(logger), logger });

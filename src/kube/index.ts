/** Kubernetes access for node-attestor: configuration, transport, the CSR API. */
export {
  resolveKubeAccess,
  type KubeAccess,
  type KubeAccessOptions,
  type KubeClientIdentity,
  type KubeTls,
} from './access.js';
export { staticToken, tokenFileCredentials, type CredentialSource, type Credentials } from './credentials.js';
export { EXEC_TIMEOUT_MS } from './exec-run.js';
export { createCsrClient, type CsrClient, type CsrClientOptions } from './csr-client.js';
export {
  CSR_API_PATH,
  csrBody,
  csrCondition,
  parseCsrObject,
  type CreateCsrRequest,
  type CsrCondition,
  type CsrObject,
} from './csr-api.js';
export {
  createKubeClient,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type HttpMethod,
  type KubeClient,
  type KubeClientOptions,
  type WatchEvent,
  type WatchOptions,
} from './http.js';
export {
  inClusterAvailable,
  loadInClusterConfig,
  SERVICE_ACCOUNT_DIR,
  type InClusterConfig,
} from './in-cluster.js';
export { isTransient, parseStatus, type KubeStatus } from './kube-errors.js';
export {
  locateKubeconfig,
  mergeKubeconfigs,
  selectContext,
  type KubeconfigCluster,
  type KubeconfigUser,
  type ResolvedKubeconfig,
} from './kubeconfig.js';
export { Secret } from './secret.js';
export {
  decodeIssuedChain,
  waitForCertificate,
  type CertificateResult,
  type CsrProgress,
  type WaitForCertificateOptions,
  type WaitTuning,
} from './wait-for-certificate.js';
export { watchCsr, type CsrWatchEvent, type WatchCsrOptions } from './watch.js';

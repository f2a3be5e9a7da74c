/**
 * The attestation core: x509pop wire formats, chain and node-client profile validation, proof of
 * possession, agent ID and selectors. No network, no gRPC. The agent plugin should import
 * ./agent.js instead, which does not load @peculiar/x509 (hundreds of milliseconds at startup).
 */
export * from './agent.js';
export { agentId, type AgentIdInput } from './agent-id.js';
export {
  DEFAULT_AGENT_PATH_TEMPLATE,
  TEMPLATE_VARIABLES,
  parseAgentPathTemplate,
  renderAgentPath,
  type AgentPathTemplate,
  type TemplateValues,
  type TemplateVariable,
} from './agent-path-template.js';
// The readers load @peculiar/x509 only when a certificate needs it: call them through
// withCertificateReader, or after loadCertificateReader (they throw X509LibNotLoaded otherwise).
export {
  X509LibNotLoaded,
  loadCertificateReader,
  readCertificate,
  withCertificateReader,
  type CertificateFacts,
} from './chain/certificate.js';
export type { ChainFailureReason } from './chain/problem.js';
export { DEFAULT_CLOCK_SKEW_SECONDS } from './chain/validity.js';
export { verifyChain, type ChainOptions, type VerifiedChain } from './chain/verify-chain.js';
export {
  createChallenge,
  verifyChallengeResponse,
  type ChallengeState,
  type IssuedChallenge,
} from './pop.js';
export { checkNodeClientProfile, type NodeClientIdentity, type ProfileCheck } from './profile.js';
export { selectorValues, type NodeFacts, type SelectorInput } from './selectors.js';
export {
  MAX_CLOCK_SKEW_SECONDS,
  MAX_INTERMEDIATES_LIMIT,
  beginAttestation,
  compileServerConfig,
  type AttestationOptions,
  type AttestationResult,
  type ClusterTrust,
  type CompiledServerConfig,
  type PendingAttestation,
  type ProvenAttestation,
  type ServerAttestationConfig,
} from './verify-attestation.js';

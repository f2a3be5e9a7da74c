/**
 * The agent-side half of the attestation core, free of @peculiar/x509 so the agent plugin starts
 * fast: build the payload from the issued chain, answer the server's challenge, and the shared
 * wire formats and name rules.
 */
export { buildAgentPayload } from './agent-payload.js';
export { answerChallenge } from './answer-challenge.js';
export { MAX_CHALLENGE_BYTES, decodeChallenge, encodeChallenge, type PopChallenge } from './challenge.js';
export { NONCE_BYTES } from './nonces.js';
export {
  DEFAULT_MAX_INTERMEDIATES,
  DEFAULT_PAYLOAD_LIMITS,
  decodePayload,
  encodePayload,
  type AttestationPayload,
  type PayloadLimits,
} from './payload.js';
export { parsePemCertificates } from './pem.js';
export { popKind, type PopKind } from './pop-key.js';
export { MAX_RESPONSE_BYTES, decodeResponse, encodeResponse, type PopResponse } from './response.js';
export {
  MAX_CLUSTER_NAME_LENGTH,
  clusterNameProblem,
  pathSegmentProblem,
  trustDomainProblem,
} from './spiffe-id.js';

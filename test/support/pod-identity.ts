/**
 * One pod's identity as the signer puts it in a certificate: the fixture the signer, the profile
 * check and the k8s_pod_cert plugins are tested with.
 */
import type { PodIdentity } from '../../src/pod-cert/identity.js';

export const TEST_SIGNER = 'node-attestor.spiffe.io/spire-agent';

export const TEST_POD_IDENTITY: PodIdentity = {
  signerName: TEST_SIGNER,
  nodeName: 'node-a',
  nodeUID: 'node-uid-1',
  namespace: 'spire',
  podName: 'agent-a',
  podUID: 'pod-uid-1',
  serviceAccountName: 'spire-agent',
  serviceAccountUID: 'sa-uid-1',
};

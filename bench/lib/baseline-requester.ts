/**
 * The baseline requester the approver and signer benches compare with: a service account with
 * the agents' CSR rights plus the nodeclient binding, so kube-controller-manager approves and
 * signs its CSRs (it is in no allow-list of ours). Returns a token for it.
 */
import type { ControlPlane } from '../../test/harness/control-plane.js';
import { NS, mintToken } from '../../test/e2e/support/approver-cluster.js';
import { NODECLIENT_ROLE } from '../../test/e2e/support/rbac.js';

const BASELINE_SA = 'baseline-agent';

export async function baselineRequesterToken(cp: ControlPlane): Promise<string> {
  await cp.kubectl(['create', 'serviceaccount', BASELINE_SA, '-n', NS]);
  await cp.kubectl([
    'create',
    'clusterrolebinding',
    'baseline-csr',
    '--clusterrole=node-attestor-agent-csr',
    `--serviceaccount=${NS}:${BASELINE_SA}`,
  ]);
  await cp.kubectl([
    'create',
    'clusterrolebinding',
    'baseline-nodeclient',
    `--clusterrole=${NODECLIENT_ROLE}`,
    `--serviceaccount=${NS}:${BASELINE_SA}`,
  ]);
  await cp.waitForAccess(`system:serviceaccount:${NS}:${BASELINE_SA}`, {
    group: 'certificates.k8s.io',
    resource: 'certificatesigningrequests',
    subresource: 'nodeclient',
    verb: 'create',
  });
  return mintToken(cp, BASELINE_SA);
}

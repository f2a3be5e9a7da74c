/** RBAC objects the e2e tests apply, as in k8s-local-control-plane.md §3.4, and waits on RBAC. */
import type { ControlPlane } from '../../harness/control-plane.js';

export function clusterRoleBinding(name: string, role: string, user: string): object {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
  };
}

export const NODE_BOOTSTRAPPER_ROLE = 'system:node-bootstrapper';
export const NODECLIENT_ROLE = 'system:certificates.k8s.io:certificatesigningrequests:nodeclient';

/** Polls a SubjectAccessReview until `user` may no longer do it (RBAC caches update asynchronously). */
export async function waitForNoAccess(
  cp: Pick<ControlPlane, 'adminRequest'>,
  user: string,
  attrs: Record<string, string>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await cp.adminRequest('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user, resourceAttributes: attrs },
    });
    if (
      r.status === 201 &&
      (JSON.parse(r.body) as { status?: { allowed?: boolean } }).status?.allowed !== true
    )
      return;
    if (Date.now() > deadline) throw new Error(`RBAC: ${user} still allowed ${JSON.stringify(attrs)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

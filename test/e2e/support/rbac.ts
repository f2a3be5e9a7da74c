/** RBAC objects the e2e tests apply, as in k8s-local-control-plane.md §3.4. */
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

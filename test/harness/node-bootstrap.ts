/**
 * TLS bootstrap, the mechanism this project builds on, set up as a real cluster has it: a
 * bootstrap token Secret in kube-system and the standard bindings — group system:bootstrappers
 * may create CSRs (system:node-bootstrapper) and have node-client CSRs auto-approved by
 * kube-controller-manager's csrapproving (…:nodeclient); group system:nodes may renew its own
 * (…:selfnodeclient). The kubelet starts with only the token and gets its certificate this way.
 */
import { randomBytes } from 'node:crypto';
import { NODE_CLIENT_CREATE, type ControlPlane } from './control-plane.js';

export interface BootstrapToken {
  readonly id: string;
  readonly secret: string;
  /** `<id>.<secret>`, the bearer token in the bootstrap kubeconfig. */
  readonly token: string;
  /** The user the API server authenticates it as. */
  readonly user: string;
}

const BINDINGS: readonly { name: string; role: string; group: string }[] = [
  { name: 'kubelet-bootstrap', role: 'system:node-bootstrapper', group: 'system:bootstrappers' },
  {
    name: 'node-autoapprove-bootstrap',
    role: 'system:certificates.k8s.io:certificatesigningrequests:nodeclient',
    group: 'system:bootstrappers',
  },
  {
    name: 'node-autoapprove-certificate-rotation',
    role: 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient',
    group: 'system:nodes',
  },
];

/** Token ids and secrets are [a-z0-9]{6} and [a-z0-9]{16} (the bootstrap token format). */
function randomToken(n: number): string {
  const abc = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(n)].map((b) => abc[b % abc.length]).join('');
}

/** Applies the bindings (idempotent) and creates a fresh bootstrap token; returns it. */
export async function createBootstrapToken(cp: ControlPlane, description: string): Promise<BootstrapToken> {
  const id = randomToken(6);
  const secret = randomToken(16);
  const docs = [
    ...BINDINGS.map((b) => ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `node-attestor-test:${b.name}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: b.role },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: b.group }],
    })),
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `bootstrap-token-${id}`, namespace: 'kube-system' },
      type: 'bootstrap.kubernetes.io/token',
      stringData: {
        description,
        'token-id': id,
        'token-secret': secret,
        'usage-bootstrap-authentication': 'true',
      },
    },
  ];
  await cp.kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs }),
  });
  const user = `system:bootstrap:${id}`;
  // RBAC caches update asynchronously: the kubelet's first CSR must not race them.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await cp.adminRequest('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user,
        groups: ['system:bootstrappers', 'system:authenticated'],
        resourceAttributes: { ...NODE_CLIENT_CREATE },
      },
    });
    if (
      r.status === 201 &&
      (JSON.parse(r.body) as { status?: { allowed?: boolean } }).status?.allowed === true
    )
      break;
    if (Date.now() > deadline)
      throw new Error(`RBAC: bootstrap token ${id} still may not create node-client CSRs`);
    await new Promise((res) => setTimeout(res, 100));
  }
  return { id, secret, token: `${id}.${secret}`, user };
}

/**
 * Who asked: the requester facts the API server recorded in the CSR (spec.username, spec.extra).
 * They are set by the server from the authenticated credential and anything a client sends is
 * discarded (verified on v1.37.2, docs/approver.md), so they can be trusted as the binding of the
 * token that created the CSR.
 */
import type { CsrObject } from '../kube/csr-api.js';

/** The spec.extra keys a bound service-account token produces (Kubernetes ≥ 1.32). */
export const EXTRA = {
  nodeName: 'authentication.kubernetes.io/node-name',
  nodeUid: 'authentication.kubernetes.io/node-uid',
  podName: 'authentication.kubernetes.io/pod-name',
  podUid: 'authentication.kubernetes.io/pod-uid',
  credentialId: 'authentication.kubernetes.io/credential-id',
} as const;

export interface ServiceAccountRef {
  readonly namespace: string;
  readonly name: string;
}

export interface RequesterBinding {
  readonly username: string;
  /** When the requester is a service account (system:serviceaccount:<ns>:<name>). */
  readonly serviceAccount?: ServiceAccountRef;
  readonly nodeName?: string;
  readonly nodeUid?: string;
  readonly podName?: string;
  readonly podUid?: string;
  /** e.g. JTI=<uuid>: for logs, to tie a decision to one token. */
  readonly credentialId?: string;
}

export type BindingResult =
  | { readonly ok: true; readonly binding: RequesterBinding }
  | { readonly ok: false; readonly problem: string };

const SA_PREFIX = 'system:serviceaccount:';

export function serviceAccountOf(username: string): ServiceAccountRef | undefined {
  if (!username.startsWith(SA_PREFIX)) return undefined;
  const rest = username.slice(SA_PREFIX.length);
  const i = rest.indexOf(':');
  if (i <= 0 || i === rest.length - 1) return undefined;
  const name = rest.slice(i + 1);
  // Namespaces and service-account names cannot contain ':'; anything else is not an SA user.
  if (name.includes(':')) return undefined;
  return { namespace: rest.slice(0, i), name };
}

/** The binding facts; a key with other than exactly one value is a problem, not a guess. */
export function requesterBinding(csr: CsrObject): BindingResult {
  const extra = csr.spec.extra ?? {};
  const values: Partial<Record<keyof typeof EXTRA, string>> = {};
  for (const [field, key] of Object.entries(EXTRA) as [keyof typeof EXTRA, string][]) {
    const v = extra[key];
    if (v === undefined) continue;
    const [only] = v;
    if (v.length !== 1 || only === undefined || only === '')
      return { ok: false, problem: `spec.extra[${key}] has ${String(v.length)} values, expected one` };
    values[field] = only;
  }
  const username = csr.spec.username ?? '';
  const serviceAccount = serviceAccountOf(username);
  return {
    ok: true,
    binding: { username, ...(serviceAccount === undefined ? {} : { serviceAccount }), ...values },
  };
}

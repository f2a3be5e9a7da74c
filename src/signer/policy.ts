/**
 * Who gets a certificate. The API server has already vouched for the request's node and pod
 * (only system:node:<nodeName> may create it, for a pod bound to that node, with that pod's
 * service account): the policy only decides which of those pods this signer serves.
 *
 * Issue when: the pod's namespace and service account are allow-listed; no
 * unverifiedUserAnnotations (we recognize none, and the API asks signers to deny unknown keys);
 * a key type we issue for; and, with -require-pod-label, the Pod read now has the same UID, is on
 * that node, is not being deleted and carries every required label. Everything else is denied
 * with a reason (a Denied condition, final: the kubelet must create a new request).
 */
import type { PcrObject } from './pcr-api.js';
import { checkRequestKey, type KeyCheck } from './request-key.js';

export const DENY_REASONS = [
  'ServiceAccountNotAllowed',
  'InvalidUnverifiedUserAnnotations',
  'UnsupportedKeyType',
  'PodNotFound',
  'PodMismatch',
  'PodLabelsMismatch',
] as const;
export type DenyReason = (typeof DENY_REASONS)[number];
export const FAIL_REASONS = ['InvalidRequest', 'NoUsableCA'] as const;
export type FailReason = (typeof FAIL_REASONS)[number];

export type Verdict =
  | { readonly kind: 'issue'; readonly key: KeyCheck & { ok: true } }
  | { readonly kind: 'deny'; readonly reason: DenyReason; readonly message: string }
  | { readonly kind: 'fail'; readonly reason: FailReason; readonly message: string };

export interface PodFacts {
  readonly uid: string;
  readonly nodeName: string;
  readonly deleting: boolean;
  readonly labels: Readonly<Record<string, string>>;
}

export interface SignerPolicy {
  /** "namespace:name" of each allowed service account. */
  readonly allowServiceAccounts: ReadonlySet<string>;
  /** Labels the Pod must carry; empty: the Pod is not read. */
  readonly requirePodLabels: Readonly<Record<string, string>>;
}

export const needsPod = (p: SignerPolicy): boolean => Object.keys(p.requirePodLabels).length > 0;

/**
 * The verdict on `pcr`. `pod` is what a Pod read found (undefined: absent), and only consulted
 * when the policy requires labels.
 */
export function judge(pcr: PcrObject, policy: SignerPolicy, pod?: PodFacts): Verdict {
  const s = pcr.spec;
  const ns = pcr.metadata.namespace;
  const sa = `${ns}:${s.serviceAccountName}`;
  if (!policy.allowServiceAccounts.has(sa))
    return {
      kind: 'deny',
      reason: 'ServiceAccountNotAllowed',
      message: `service account ${ns}/${s.serviceAccountName} is not allowed to get certificates from this signer`,
    };
  const annotations = Object.keys(s.unverifiedUserAnnotations);
  if (annotations.length > 0)
    return {
      kind: 'deny',
      reason: 'InvalidUnverifiedUserAnnotations',
      message: `this signer recognizes no unverifiedUserAnnotations; remove ${annotations.sort().join(', ')}`,
    };
  const key = checkRequestKey(s.stubPKCS10Request);
  if (!key.ok)
    return key.unsupported
      ? { kind: 'deny', reason: 'UnsupportedKeyType', message: key.message }
      : { kind: 'fail', reason: 'InvalidRequest', message: key.message };
  if (needsPod(policy)) {
    const where = `pod ${ns}/${s.podName}`;
    if (pod === undefined) return { kind: 'deny', reason: 'PodNotFound', message: `${where} does not exist` };
    if (pod.uid !== s.podUID)
      return { kind: 'deny', reason: 'PodMismatch', message: `${where} has UID ${pod.uid}, not ${s.podUID}` };
    if (pod.nodeName !== s.nodeName)
      return {
        kind: 'deny',
        reason: 'PodMismatch',
        message: `${where} is on node ${pod.nodeName || '(none)'}, not ${s.nodeName}`,
      };
    if (pod.deleting) return { kind: 'deny', reason: 'PodMismatch', message: `${where} is being deleted` };
    const missing = Object.entries(policy.requirePodLabels).filter(([k, v]) => pod.labels[k] !== v);
    if (missing.length > 0)
      return {
        kind: 'deny',
        reason: 'PodLabelsMismatch',
        message: `${where} lacks the required label(s) ${missing.map(([k, v]) => `${k}=${v}`).join(', ')}`,
      };
  }
  return { kind: 'issue', key };
}

/**
 * The approver's decision for one CSR it owns: approve exactly when the request is a node client
 * request AND the node its CN names is the node the requester's token is bound to (from
 * spec.extra, or through the bound Pod) AND that Node exists (with the UID the token recorded,
 * when it recorded one) AND it asks for a lifetime (spec.expirationSeconds) of at most the
 * configured maximum. Everything else is denied with a reason `kubectl describe csr` shows.
 *
 * Lookup failures (403, 5xx, unreachable) are thrown, never turned into a denial: a transient
 * outage must not deny a legitimate node.
 */
import type { CsrObject } from '../kube/csr-api.js';
import { NODE_CLIENT_SIGNER } from '../csr/profile.js';
import { formatDuration } from '../util/duration.js';
import type { Lookups } from './lookups.js';
import { inspectNodeClientRequest } from './node-request.js';
import { EXTRA, requesterBinding, type RequesterBinding } from './requester.js';

export const APPROVE_REASON = 'NodeBindingVerified';

export const DENY_REASONS = [
  'NotNodeClientRequest',
  'NoExpiration',
  'ExpirationTooLong',
  'NoNodeBinding',
  'NoPodBinding',
  'PodNotFound',
  'PodUIDMismatch',
  'PodNotScheduled',
  'NodeMismatch',
  'NodeNotFound',
  'NodeUIDMismatch',
  'NodeBeingDeleted',
] as const;
export type DenyReason = (typeof DENY_REASONS)[number];

export type Decision =
  | {
      readonly kind: 'approve';
      readonly reason: typeof APPROVE_REASON;
      readonly message: string;
      readonly nodeName: string;
    }
  | { readonly kind: 'deny'; readonly reason: DenyReason; readonly message: string };

export type Triage =
  { readonly kind: 'own' } | { readonly kind: 'ignore'; readonly why: 'decided' | 'signer' | 'requester' };

const DECISION_TYPES = new Set(['Approved', 'Denied', 'Failed']);

/** Whether anyone (us, another approver, an admin, the signer) has already settled the CSR. */
export function isSettled(csr: CsrObject): boolean {
  return (
    csr.status.conditions.some((c) => DECISION_TYPES.has(c.type)) ||
    (csr.status.certificate !== undefined && csr.status.certificate !== '')
  );
}

/** Is this CSR ours to decide? Settled ones and other requesters' are left alone, untouched. */
export function triage(csr: CsrObject, allowRequesters: ReadonlySet<string>): Triage {
  if (csr.spec.signerName !== NODE_CLIENT_SIGNER) return { kind: 'ignore', why: 'signer' };
  if (isSettled(csr)) return { kind: 'ignore', why: 'decided' };
  if (!allowRequesters.has(csr.spec.username ?? '')) return { kind: 'ignore', why: 'requester' };
  return { kind: 'own' };
}

export interface DecideOptions {
  readonly lookups: Lookups;
  /** Accept tokens bound directly to a Node (TokenRequest boundObjectRef kind Node), with no pod. */
  readonly allowNodeBoundTokens: boolean;
  /** When spec.extra has no node-name, find the node through the bound Pod (pod-name/pod-uid). */
  readonly podLookup: boolean;
  /** Longest spec.expirationSeconds approved, in ms (-max-expiration). */
  readonly maxExpirationMs: number;
  readonly signal?: AbortSignal;
}

const deny = (reason: DenyReason, message: string): Decision => ({ kind: 'deny', reason, message });

/**
 * A lifetime is part of what is approved: without spec.expirationSeconds the signer issues its
 * maximum (a year by default), so a token held briefly would yield a kubelet credential that
 * outlives the pod, the token and the node.
 */
function expirationDenial(csr: CsrObject, maxMs: number): Decision | undefined {
  const seconds = csr.spec.expirationSeconds;
  const limit = `the limit is ${formatDuration(maxMs)} (-max-expiration)`;
  if (seconds === undefined)
    return deny(
      'NoExpiration',
      `spec.expirationSeconds is not set, so the signer would issue its maximum lifetime; ${limit}`,
    );
  if (seconds * 1000 > maxMs)
    return deny(
      'ExpirationTooLong',
      `spec.expirationSeconds is ${seconds} (${formatDuration(seconds * 1000)}); ${limit}`,
    );
  return undefined;
}

type BoundNode =
  | { readonly ok: true; readonly nodeName: string; readonly nodeUid?: string; readonly via: string }
  | { readonly ok: false; readonly decision: Decision };

/** The node the requester's credential is bound to, and how we know it (for messages). */
async function boundNode(b: RequesterBinding, o: DecideOptions): Promise<BoundNode> {
  const podRef = b.podName === undefined ? undefined : `${b.serviceAccount?.namespace ?? '?'}/${b.podName}`;
  if (b.nodeName !== undefined) {
    if (b.podName === undefined && !o.allowNodeBoundTokens)
      return {
        ok: false,
        decision: deny(
          'NoPodBinding',
          `the requester's token is bound to node ${b.nodeName} directly, not to a pod on it; node-bound tokens are not accepted (-allow-node-bound-tokens)`,
        ),
      };
    return {
      ok: true,
      nodeName: b.nodeName,
      ...(b.nodeUid === undefined ? {} : { nodeUid: b.nodeUid }),
      via:
        podRef === undefined
          ? `token bound to node ${b.nodeName}`
          : `token bound to pod ${podRef} on node ${b.nodeName}`,
    };
  }
  const noBinding = deny(
    'NoNodeBinding',
    `the requester's credential is not bound to a node: spec.extra has no ${EXTRA.nodeName}${o.podLookup ? ` and no ${EXTRA.podName}/${EXTRA.podUid} to find one` : ''} (use a pod-bound service-account token, Kubernetes >= 1.32)`,
  );
  if (!o.podLookup || b.podName === undefined || b.podUid === undefined || b.serviceAccount === undefined)
    return { ok: false, decision: noBinding };

  const ns = b.serviceAccount.namespace;
  const pod = await o.lookups.getPod(ns, b.podName, o.signal);
  if (pod === undefined)
    return {
      ok: false,
      decision: deny(
        'PodNotFound',
        `the requester's token is bound to pod ${ns}/${b.podName}, which does not exist`,
      ),
    };
  if (pod.uid !== b.podUid)
    return {
      ok: false,
      decision: deny(
        'PodUIDMismatch',
        `the requester's token is bound to pod ${ns}/${b.podName} with UID ${b.podUid}, but that pod now has UID ${pod.uid} (it was re-created)`,
      ),
    };
  if (pod.nodeName === '')
    return {
      ok: false,
      decision: deny('PodNotScheduled', `the requester's pod ${ns}/${b.podName} is not scheduled to a node`),
    };
  return {
    ok: true,
    nodeName: pod.nodeName,
    via: `token bound to pod ${ns}/${b.podName} on node ${pod.nodeName} (read from the Pod)`,
  };
}

export async function decide(csr: CsrObject, o: DecideOptions): Promise<Decision> {
  const request = inspectNodeClientRequest(csr);
  if (!request.ok) return deny('NotNodeClientRequest', `not a node client request: ${request.problem}`);
  const cn = request.nodeName;
  const expiration = expirationDenial(csr, o.maxExpirationMs);
  if (expiration !== undefined) return expiration;

  const binding = requesterBinding(csr);
  if (!binding.ok) return deny('NoNodeBinding', binding.problem);
  const bound = await boundNode(binding.binding, o);
  if (!bound.ok) return bound.decision;

  if (bound.nodeName !== cn)
    return deny('NodeMismatch', `CN names node ${cn} but the requester's ${bound.via}`);

  const node = await o.lookups.getNode(cn, o.signal);
  if (node === undefined) return deny('NodeNotFound', `node ${cn} does not exist (requester's ${bound.via})`);
  if (bound.nodeUid !== undefined && node.uid !== bound.nodeUid)
    return deny(
      'NodeUIDMismatch',
      `the requester's token was issued for node ${cn} with UID ${bound.nodeUid}, but node ${cn} now has UID ${node.uid} (it was re-created)`,
    );
  if (node.deleting) return deny('NodeBeingDeleted', `node ${cn} is being deleted`);
  return {
    kind: 'approve',
    reason: APPROVE_REASON,
    message: `node-attestor approver: CN names node ${cn}, the node of the requester's ${bound.via}; node UID ${node.uid}`,
    nodeName: cn,
  };
}

/**
 * Writes a request's answer through the /status subresource, at most once: the PUT carries the
 * resourceVersion we judged, so if anyone changed the request since (a replica that led before
 * us, an admin) the API server answers 409 Conflict and we write nothing. No re-read here (the
 * signer's RBAC has no get): the informer's watch delivers the newer version, and the controller
 * answers it only if it is still unanswered. An answer (Issued, Denied, Failed) is never
 * overwritten; the API server would refuse it anyway, the status being immutable once terminal.
 */
import { apiTime } from '../kube/api-time.js';
import { AttestorError } from '../errors.js';
import type { KubeClient } from '../kube/http.js';
import { PCR_GROUP_VERSION, parsePcrObject, pcrPath, type PcrEntry, type PcrObject } from './pcr-api.js';
import type { IssueTimes } from './issue.js';

export type Answer =
  | { readonly kind: 'issued'; readonly chainPem: string; readonly times: IssueTimes }
  | { readonly kind: 'denied' | 'failed'; readonly reason: string; readonly message: string };

export type WriteOutcome =
  | { readonly kind: 'written'; readonly pcr: PcrObject }
  /** 409: someone changed it since we read it (answered it, most likely). */
  | { readonly kind: 'stale' }
  | { readonly kind: 'gone' };

const status = (err: unknown): number | undefined => {
  if (!(err instanceof AttestorError)) return undefined;
  const s = err.details.status;
  return typeof s === 'number' ? s : undefined;
};

/** metav1.Condition messages are at most 32768 bytes. */
const clip = (s: string): string => (s.length > 1024 ? `${s.slice(0, 1021)}...` : s);

export function statusBody(entry: PcrEntry, a: Answer, now: Date): Record<string, unknown> {
  const t = apiTime(now);
  const condition =
    a.kind === 'issued'
      ? {
          type: 'Issued',
          status: 'True',
          reason: 'Issued',
          message: 'issued by node-attestor signer',
          lastTransitionTime: t,
        }
      : {
          type: a.kind === 'denied' ? 'Denied' : 'Failed',
          status: 'True',
          reason: a.reason,
          message: clip(a.message),
          lastTransitionTime: t,
        };
  return {
    ...entry.raw,
    // List items come without apiVersion/kind; the update needs them.
    apiVersion: PCR_GROUP_VERSION,
    kind: 'PodCertificateRequest',
    status: {
      conditions: [condition],
      ...(a.kind === 'issued'
        ? {
            certificateChain: a.chainPem,
            notBefore: apiTime(a.times.notBefore),
            beginRefreshAt: apiTime(a.times.beginRefreshAt),
            notAfter: apiTime(a.times.notAfter),
          }
        : {}),
    },
  };
}

export async function writeAnswer(
  kube: KubeClient,
  entry: PcrEntry,
  a: Answer,
  o: { readonly now?: Date; readonly signal?: AbortSignal } = {},
): Promise<WriteOutcome> {
  const { namespace, name } = entry.pcr.metadata;
  const path = pcrPath(namespace, name);
  try {
    const answer = await kube.requestJson(
      'PUT',
      `${path}/status`,
      statusBody(entry, a, o.now ?? new Date()),
      o.signal,
    );
    return { kind: 'written', pcr: parsePcrObject(answer) };
  } catch (err) {
    const s = status(err);
    if (s === 404) return { kind: 'gone' };
    // Our copy is stale: the watch brings the newer one, which is queued again if still unanswered.
    if (s === 409) return { kind: 'stale' };
    throw err;
  }
}

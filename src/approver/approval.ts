/**
 * Writes a decision through the /approval subresource, at most once: the PUT carries the
 * resourceVersion we decided on, so if anyone changed the CSR since (another approver, an admin)
 * the API server answers 409 Conflict instead of letting us overwrite. After a conflict we re-read
 * and never write over a decision someone else made.
 */
import { apiTime } from '../kube/api-time.js';
import { AttestorError } from '../errors.js';
import { csrPath, parseCsrObject, type CsrObject } from '../kube/csr-api.js';
import type { KubeClient } from '../kube/http.js';
import type { Decision } from './decide.js';
import { isSettled } from './decide.js';
import type { CsrEntry } from './informer.js';

export type WriteOutcome =
  /** Our condition is on the CSR. */
  | { readonly kind: 'written'; readonly csr: CsrObject }
  /** Someone else decided first; left as they decided. */
  | { readonly kind: 'settled-elsewhere'; readonly csr: CsrObject }
  /** It changed in another way (labels, …) and is still pending: decide again on `entry`. */
  | { readonly kind: 'changed'; readonly entry: CsrEntry }
  | { readonly kind: 'gone' };

const status = (err: unknown): number | undefined => {
  if (!(err instanceof AttestorError) || err.code !== 'ERR_KUBE_API') return undefined;
  const s = err.details.status;
  return typeof s === 'number' ? s : undefined;
};

/** The body the /approval subresource wants: the whole object with our condition appended. */
export function approvalBody(entry: CsrEntry, d: Decision, now: Date): Record<string, unknown> {
  const raw = entry.raw;
  const rawStatus = raw.status;
  const statusObj =
    typeof rawStatus === 'object' && rawStatus !== null ? (rawStatus as Record<string, unknown>) : {};
  const conditions = Array.isArray(statusObj.conditions) ? (statusObj.conditions as unknown[]) : [];
  return {
    ...raw,
    // List items come without apiVersion/kind; the update needs them.
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    status: {
      ...statusObj,
      conditions: [
        ...conditions,
        {
          type: d.kind === 'approve' ? 'Approved' : 'Denied',
          status: 'True',
          reason: d.reason,
          message: d.message,
          lastUpdateTime: apiTime(now),
        },
      ],
    },
  };
}

export async function writeDecision(
  kube: KubeClient,
  entry: CsrEntry,
  d: Decision,
  opts: { readonly now?: Date; readonly signal?: AbortSignal } = {},
): Promise<WriteOutcome> {
  const name = entry.csr.metadata.name;
  try {
    const answer = await kube.requestJson(
      'PUT',
      `${csrPath(name)}/approval`,
      approvalBody(entry, d, opts.now ?? new Date()),
      opts.signal,
    );
    return { kind: 'written', csr: parseCsrObject(answer) };
  } catch (err) {
    const s = status(err);
    if (s === 404) return { kind: 'gone' };
    if (s !== 409) throw err;
  }
  // 409: our copy was stale. Re-read; whoever changed it wins if they decided.
  let fresh: unknown;
  try {
    fresh = await kube.requestJson('GET', csrPath(name), undefined, opts.signal);
  } catch (err) {
    if (status(err) === 404) return { kind: 'gone' };
    throw err;
  }
  const csr = parseCsrObject(fresh);
  if (isSettled(csr)) return { kind: 'settled-elsewhere', csr };
  return { kind: 'changed', entry: { csr, raw: fresh as Record<string, unknown> } };
}

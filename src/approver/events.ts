/**
 * A core/v1 Event on the CSR for each decision. `kubectl describe csr` on v1.37.2 prints only
 * "Status: Denied" — not the condition's reason or message — but it does print the object's
 * Events, so this is what makes the reason visible there. Best effort: a failure is logged and
 * counted, never retried, and never delays or changes a decision.
 */
import { apiTime } from '../kube/api-time.js';
import type { CsrObject } from '../kube/csr-api.js';
import type { KubeClient } from '../kube/http.js';
import type { Decision } from './decide.js';

export const EVENT_COMPONENT = 'node-attestor-approver';
/**
 * The API server accepts Events about cluster-scoped objects (a CSR) only in "default" (or
 * kube-system); `kubectl describe` searches all namespaces, so it finds them there.
 */
export const EVENT_NAMESPACE = 'default';

export function decisionEvent(
  csr: CsrObject,
  d: Decision,
  o: { readonly instance: string; readonly now: Date },
): Record<string, unknown> {
  const t = apiTime(o.now);
  return {
    apiVersion: 'v1',
    kind: 'Event',
    // Event names only need to be unique; this is what client-go's recorder does too.
    metadata: { generateName: `${csr.metadata.name}.`, namespace: EVENT_NAMESPACE },
    involvedObject: {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      name: csr.metadata.name,
      ...(csr.metadata.uid === undefined ? {} : { uid: csr.metadata.uid }),
    },
    type: d.kind === 'approve' ? 'Normal' : 'Warning',
    reason: d.reason,
    message: d.message,
    source: { component: EVENT_COMPONENT },
    reportingComponent: EVENT_COMPONENT,
    reportingInstance: o.instance,
    action: d.kind === 'approve' ? 'Approve' : 'Deny',
    firstTimestamp: t,
    lastTimestamp: t,
    count: 1,
  };
}

export async function recordDecisionEvent(
  kube: KubeClient,
  csr: CsrObject,
  d: Decision,
  o: { readonly instance: string; readonly now?: Date },
): Promise<void> {
  await kube.requestJson(
    'POST',
    `/api/v1/namespaces/${EVENT_NAMESPACE}/events`,
    decisionEvent(csr, d, { instance: o.instance, now: o.now ?? new Date() }),
  );
}

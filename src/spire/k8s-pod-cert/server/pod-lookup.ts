/**
 * The checks of a pod certificate's facts against the cluster, after the proof of possession:
 * the Node it names exists with the same UID (a node deleted and re-created under the same name
 * has a new UID, so its old certificates stop attesting), and optionally the Pod exists with the
 * same UID, is still bound to that node and is not terminating. A missing or different object is
 * ERR_NODE (PermissionDenied); API trouble keeps its ERR_KUBE_* code (Unavailable: the agent retries).
 */
import { AttestorError, isAttestorError } from '../../../errors.js';
import type { KubeClient } from '../../../kube/http.js';
import type { PodIdentity } from '../../../pod-cert/identity.js';
import { lookupNode, type NodeFacts } from '../../k8s-csr/server/node-lookup.js';

export async function verifyNodeUid(
  kube: KubeClient,
  pod: PodIdentity,
  cluster: string,
  signal?: AbortSignal,
): Promise<NodeFacts> {
  const node = await lookupNode(kube, pod.nodeName, cluster, signal);
  if (node.uid !== pod.nodeUID)
    throw new AttestorError(
      'ERR_NODE',
      `node ${pod.nodeName} in cluster ${cluster} has UID ${node.uid}, but the certificate names UID ${pod.nodeUID}: the node was re-created since the certificate was issued`,
      { details: { cluster, node: pod.nodeName, check: 'node-uid' } },
    );
  return node;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export async function verifyPod(
  kube: KubeClient,
  pod: PodIdentity,
  cluster: string,
  signal?: AbortSignal,
): Promise<void> {
  const where = `pod ${pod.namespace}/${pod.podName} in cluster ${cluster}`;
  const fail = (problem: string, check: string): AttestorError =>
    new AttestorError('ERR_NODE', `${where} ${problem}`, { details: { cluster, node: pod.nodeName, check } });
  let body: unknown;
  try {
    body = await kube.requestJson(
      'GET',
      `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.podName)}`,
      undefined,
      signal,
    );
  } catch (err) {
    if (isAttestorError(err, 'ERR_KUBE_API') && err.details.status === 404)
      throw fail('does not exist', 'pod-exists');
    throw err;
  }
  const meta = isRecord(body) && isRecord(body.metadata) ? body.metadata : {};
  const spec = isRecord(body) && isRecord(body.spec) ? body.spec : {};
  const status = isRecord(body) && isRecord(body.status) ? body.status : {};
  if (meta.uid !== pod.podUID)
    throw fail(
      `has UID ${String(meta.uid)}, not the certificate's ${pod.podUID}: it was re-created`,
      'pod-uid',
    );
  if (spec.nodeName !== pod.nodeName)
    throw fail(`is bound to node ${String(spec.nodeName)}, not ${pod.nodeName}`, 'pod-node');
  if (meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null)
    throw fail('is being deleted', 'pod-terminating');
  if (status.phase === 'Succeeded' || status.phase === 'Failed')
    throw fail(`has terminated (phase ${status.phase})`, 'pod-terminating');
}

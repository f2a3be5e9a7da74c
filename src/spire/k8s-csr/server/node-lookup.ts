/**
 * Reads the Node a certificate names, so the server plugin does not trust the name alone (the
 * Kubernetes approver never checked it): the Node must exist and not be being deleted. API
 * trouble keeps its ERR_KUBE_* code (gRPC Unavailable: SPIRE's agent retries); a missing or
 * deleted Node is ERR_NODE (PermissionDenied).
 */
import { AttestorError, isAttestorError } from '../../../errors.js';
import type { KubeClient } from '../../../kube/http.js';

export interface NodeFacts {
  readonly name: string;
  readonly uid: string;
  readonly labels: Readonly<Record<string, string>>;
  /** status.addresses[].address (InternalIP, ExternalIP, Hostname, …). */
  readonly addresses: readonly { readonly type: string; readonly address: string }[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export async function lookupNode(
  kube: KubeClient,
  name: string,
  cluster: string,
  signal?: AbortSignal,
): Promise<NodeFacts> {
  let body: unknown;
  try {
    body = await kube.requestJson('GET', `/api/v1/nodes/${encodeURIComponent(name)}`, undefined, signal);
  } catch (err) {
    if (isAttestorError(err, 'ERR_KUBE_API') && err.details.status === 404)
      throw new AttestorError('ERR_NODE', `node ${name} does not exist in cluster ${cluster}`, {
        details: { cluster, node: name, check: 'node-exists' },
      });
    throw err;
  }
  const meta = isRecord(body) && isRecord(body.metadata) ? body.metadata : undefined;
  const uid = meta !== undefined && typeof meta.uid === 'string' ? meta.uid : '';
  if (meta === undefined || uid === '' || meta.name !== name)
    throw new AttestorError(
      'ERR_KUBE_API',
      `GET node ${name} in cluster ${cluster}: the answer is not that Node object`,
    );
  if (meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null)
    throw new AttestorError('ERR_NODE', `node ${name} in cluster ${cluster} is being deleted`, {
      details: { cluster, node: name, check: 'node-not-deleting' },
    });
  const labels: Record<string, string> = {};
  if (isRecord(meta.labels))
    for (const [k, v] of Object.entries(meta.labels)) if (typeof v === 'string') labels[k] = v;
  const status = isRecord(body) && isRecord(body.status) ? body.status : {};
  const addresses = Array.isArray(status.addresses)
    ? status.addresses.flatMap((a) =>
        isRecord(a) && typeof a.address === 'string' && typeof a.type === 'string'
          ? [{ type: a.type, address: a.address }]
          : [],
      )
    : [];
  return { name, uid, labels, addresses };
}

/** Only the allow-listed label keys become selectors. */
export function allowedLabels(node: NodeFacts, keys: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(node.labels)) if (keys.has(k)) out[k] = v;
  return out;
}

/**
 * The two objects a decision may read: the Node the certificate would name, and (when the token
 * carries no node name) the Pod it is bound to. A missing object is an answer (undefined), not an
 * error; anything else (403, 5xx, unreachable) is thrown so the controller retries later.
 */
import { AttestorError } from '../errors.js';
import type { KubeClient } from '../kube/http.js';

export interface NodeFacts {
  readonly name: string;
  readonly uid: string;
  readonly deleting: boolean;
}

export interface PodFacts {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** '' while the pod is not scheduled. */
  readonly nodeName: string;
  readonly serviceAccountName: string;
  readonly deleting: boolean;
}

export interface Lookups {
  getNode(name: string, signal?: AbortSignal): Promise<NodeFacts | undefined>;
  getPod(namespace: string, name: string, signal?: AbortSignal): Promise<PodFacts | undefined>;
}

type Json = Readonly<Record<string, unknown>>;

const record = (v: unknown): Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function isNotFound(err: unknown): boolean {
  return err instanceof AttestorError && err.code === 'ERR_KUBE_API' && err.details.status === 404;
}

async function getOrUndefined(
  kube: KubeClient,
  path: string,
  signal?: AbortSignal,
): Promise<Json | undefined> {
  try {
    return record(await kube.requestJson('GET', path, undefined, signal));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function malformed(what: string): AttestorError {
  return new AttestorError('ERR_KUBE_API', `the API server returned a malformed ${what}: no metadata.uid`);
}

export function kubeLookups(kube: KubeClient): Lookups {
  return {
    getNode: async (name, signal) => {
      const o = await getOrUndefined(kube, `/api/v1/nodes/${encodeURIComponent(name)}`, signal);
      if (o === undefined) return undefined;
      const md = record(o.metadata);
      const uid = str(md.uid);
      if (uid === '') throw malformed(`Node ${name}`);
      return { name, uid, deleting: str(md.deletionTimestamp) !== '' };
    },
    getPod: async (namespace, name, signal) => {
      const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
      const o = await getOrUndefined(kube, path, signal);
      if (o === undefined) return undefined;
      const md = record(o.metadata);
      const spec = record(o.spec);
      const uid = str(md.uid);
      if (uid === '') throw malformed(`Pod ${namespace}/${name}`);
      return {
        namespace,
        name,
        uid,
        nodeName: str(spec.nodeName),
        serviceAccountName: str(spec.serviceAccountName),
        deleting: str(md.deletionTimestamp) !== '',
      };
    },
  };
}

/**
 * certificates.k8s.io/v1 PodCertificateRequest (Kubernetes 1.37, KEP-4317): the typed view the
 * signer relies on, and its paths. Field facts from k8s.io/api certificates/v1 types.go: the
 * spec is immutable and set by the kubelet (the NodeRestriction admission plugin checks the node
 * and pod); the status is written once, through /status, to exactly one of Issued, Denied or
 * Failed (status "True"), after which the API server refuses any change to it.
 */
import { AttestorError } from '../errors.js';

export const PCR_GROUP_VERSION = 'certificates.k8s.io/v1';
export const PCR_API_PATH = `/apis/${PCR_GROUP_VERSION}/podcertificaterequests`;

export const pcrPath = (namespace: string, name: string): string =>
  `/apis/${PCR_GROUP_VERSION}/namespaces/${encodeURIComponent(namespace)}/podcertificaterequests/${encodeURIComponent(name)}`;

/** The terminal condition types: at most one, and then the status never changes again. */
export const TERMINAL_CONDITIONS = ['Issued', 'Denied', 'Failed'] as const;
export type TerminalCondition = (typeof TERMINAL_CONDITIONS)[number];

export interface PcrCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

export interface PcrObject {
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    readonly resourceVersion: string;
    readonly creationTimestamp?: string;
  };
  readonly spec: {
    readonly signerName: string;
    readonly podName: string;
    readonly podUID: string;
    readonly serviceAccountName: string;
    readonly serviceAccountUID: string;
    readonly nodeName: string;
    readonly nodeUID: string;
    /** The API server defaults it to 86400 and keeps it within [3600, 7862400]. */
    readonly maxExpirationSeconds: number;
    /** base64 of the DER PKCS#10 request (the API server has verified its signature). */
    readonly stubPKCS10Request: string;
    readonly unverifiedUserAnnotations: Readonly<Record<string, string>>;
  };
  readonly status: {
    readonly conditions: readonly PcrCondition[];
    readonly certificateChain?: string;
  };
}

/** The object as the API server sent it and its typed view: the /status PUT sends it back whole. */
export interface PcrEntry {
  readonly pcr: PcrObject;
  readonly raw: Record<string, unknown>;
}

export const pcrKey = (pcr: PcrObject): string => `${pcr.metadata.namespace}/${pcr.metadata.name}`;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};

/** Parses a PodCertificateRequest; ERR_KUBE_API naming the first field that is missing or wrong. */
export function parsePcrObject(raw: unknown): PcrObject {
  const o = obj(raw);
  const md = obj(o.metadata);
  const spec = obj(o.spec);
  const status = obj(o.status);
  const bad = (field: string): AttestorError =>
    new AttestorError('ERR_KUBE_API', `a PodCertificateRequest has no valid ${field}`, {
      details: { field },
    });
  const str = (from: Json, key: string, field: string): string => {
    const v = from[key];
    if (typeof v !== 'string' || v === '') throw bad(field);
    return v;
  };
  const name = str(md, 'name', 'metadata.name');
  const max = spec.maxExpirationSeconds ?? 86_400;
  if (typeof max !== 'number' || !Number.isInteger(max) || max <= 0) throw bad('spec.maxExpirationSeconds');
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(spec.unverifiedUserAnnotations)))
    if (typeof v === 'string') annotations[k] = v;
  const conditions = Array.isArray(status.conditions) ? status.conditions : [];
  return {
    metadata: {
      name,
      namespace: str(md, 'namespace', 'metadata.namespace'),
      uid: str(md, 'uid', 'metadata.uid'),
      resourceVersion: str(md, 'resourceVersion', 'metadata.resourceVersion'),
      ...(typeof md.creationTimestamp === 'string' ? { creationTimestamp: md.creationTimestamp } : {}),
    },
    spec: {
      signerName: str(spec, 'signerName', 'spec.signerName'),
      podName: str(spec, 'podName', 'spec.podName'),
      podUID: str(spec, 'podUID', 'spec.podUID'),
      serviceAccountName: str(spec, 'serviceAccountName', 'spec.serviceAccountName'),
      serviceAccountUID: str(spec, 'serviceAccountUID', 'spec.serviceAccountUID'),
      nodeName: str(spec, 'nodeName', 'spec.nodeName'),
      nodeUID: str(spec, 'nodeUID', 'spec.nodeUID'),
      maxExpirationSeconds: max,
      stubPKCS10Request: str(spec, 'stubPKCS10Request', 'spec.stubPKCS10Request'),
      unverifiedUserAnnotations: annotations,
    },
    status: {
      conditions: conditions.map((c) => {
        const co = obj(c);
        return {
          type: typeof co.type === 'string' ? co.type : '',
          status: typeof co.status === 'string' ? co.status : '',
          ...(typeof co.reason === 'string' ? { reason: co.reason } : {}),
          ...(typeof co.message === 'string' ? { message: co.message } : {}),
        };
      }),
      ...(typeof status.certificateChain === 'string' ? { certificateChain: status.certificateChain } : {}),
    },
  };
}

/** The terminal condition on the request, if it has one. */
export function terminalCondition(pcr: PcrObject): PcrCondition | undefined {
  return pcr.status.conditions.find(
    (c) => (TERMINAL_CONDITIONS as readonly string[]).includes(c.type) && c.status === 'True',
  );
}

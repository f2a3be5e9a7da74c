/**
 * The certificates.k8s.io/v1 CertificateSigningRequest calls node-attestor makes, and the
 * minimal typed view of the object. Answers are checked for the fields we rely on, so a broken
 * server fails as ERR_KUBE_API here rather than as a TypeError somewhere later.
 */
import { AttestorError } from '../errors.js';
import type { KubeClient } from './http.js';

export const CSR_API_PATH = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

export interface CsrCondition {
  /** Approved, Denied, Failed (others may exist and are ignored). */
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly lastUpdateTime?: string;
}

export interface CsrObject {
  readonly metadata: {
    readonly name: string;
    readonly resourceVersion: string;
    readonly uid?: string;
    readonly creationTimestamp?: string;
  };
  readonly spec: {
    /** base64 of the PEM text. */
    readonly request: string;
    readonly signerName: string;
    readonly usages: readonly string[];
    readonly expirationSeconds?: number;
    /** Set by the API server from the authenticated requester. */
    readonly username?: string;
    /** The requester's UID (for a service account: its UID); set by the API server. */
    readonly uid?: string;
    readonly groups?: readonly string[];
    /**
     * The requester's extra attributes, set by the API server. For a pod-bound service-account
     * token: authentication.kubernetes.io/{pod-name,pod-uid,node-name,node-uid,credential-id}.
     */
    readonly extra?: Readonly<Record<string, readonly string[]>>;
  };
  readonly status: {
    readonly conditions: readonly CsrCondition[];
    /** base64 of the PEM chain; empty or absent until signed. */
    readonly certificate?: string;
  };
}

interface CsrRequestBase {
  /** The PKCS#10 request as PEM text (`CERTIFICATE REQUEST`). */
  readonly requestPem: string;
  readonly signerName: string;
  readonly usages: readonly string[];
  /** At least 600 (the API rejects less); signers clamp it to their maximum. */
  readonly expirationSeconds?: number;
  readonly labels?: Readonly<Record<string, string>>;
}

/** Exactly one of `name` and `generateName` (a prefix the API server completes). */
export type CreateCsrRequest = CsrRequestBase &
  (
    | { readonly name: string; readonly generateName?: never }
    | { readonly generateName: string; readonly name?: never }
  );

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function malformed(problem: string): AttestorError {
  return new AttestorError(
    'ERR_KUBE_API',
    `the API server returned a malformed CertificateSigningRequest: ${problem}`,
  );
}

function optStrings(o: Record<string, unknown>, key: string, where: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string'))
    throw malformed(`${where}.${key} is not a list of strings`);
  return v;
}

/** spec.extra is map[string][]string; anything else is a broken server, not something to guess at. */
function optExtra(spec: Record<string, unknown>): Record<string, string[]> | undefined {
  const v = spec.extra;
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) throw malformed('spec.extra is not an object');
  const out: Record<string, string[]> = {};
  for (const key of Object.keys(v)) out[key] = optStrings(v, key, 'spec.extra') ?? [];
  return out;
}

function optStr(o: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw malformed(`${where}.${key} is not a string`);
  return v;
}

/** Checks and narrows an API answer to CsrObject; ERR_KUBE_API when a needed field is wrong. */
export function parseCsrObject(value: unknown): CsrObject {
  if (!isRecord(value)) throw malformed('not an object');
  const md = value.metadata;
  if (!isRecord(md)) throw malformed('no metadata');
  const name = optStr(md, 'name', 'metadata');
  const resourceVersion = optStr(md, 'resourceVersion', 'metadata');
  if (name === undefined || name === '') throw malformed('no metadata.name');
  if (resourceVersion === undefined || resourceVersion === '')
    throw malformed(`${name}: no metadata.resourceVersion`);
  const uid = optStr(md, 'uid', 'metadata');
  const creationTimestamp = optStr(md, 'creationTimestamp', 'metadata');

  const spec = isRecord(value.spec) ? value.spec : {};
  const usages = Array.isArray(spec.usages)
    ? spec.usages.filter((u): u is string => typeof u === 'string')
    : [];
  const expirationSeconds = typeof spec.expirationSeconds === 'number' ? spec.expirationSeconds : undefined;
  const username = optStr(spec, 'username', 'spec');
  const requesterUid = optStr(spec, 'uid', 'spec');
  const groups = optStrings(spec, 'groups', 'spec');
  const extra = optExtra(spec);

  const status = isRecord(value.status) ? value.status : {};
  const rawConditions = status.conditions ?? [];
  if (!Array.isArray(rawConditions)) throw malformed(`${name}: status.conditions is not a list`);
  const conditions = rawConditions.map((c: unknown, i): CsrCondition => {
    if (!isRecord(c)) throw malformed(`${name}: status.conditions[${i}] is not an object`);
    const where = `status.conditions[${i}]`;
    const type = optStr(c, 'type', where);
    if (type === undefined) throw malformed(`${name}: ${where} has no type`);
    const reason = optStr(c, 'reason', where);
    const message = optStr(c, 'message', where);
    const lastUpdateTime = optStr(c, 'lastUpdateTime', where);
    return {
      type,
      status: optStr(c, 'status', where) ?? '',
      ...(reason === undefined ? {} : { reason }),
      ...(message === undefined ? {} : { message }),
      ...(lastUpdateTime === undefined ? {} : { lastUpdateTime }),
    };
  });
  const certificate = optStr(status, 'certificate', 'status');

  return {
    metadata: {
      name,
      resourceVersion,
      ...(uid === undefined ? {} : { uid }),
      ...(creationTimestamp === undefined ? {} : { creationTimestamp }),
    },
    spec: {
      request: optStr(spec, 'request', 'spec') ?? '',
      signerName: optStr(spec, 'signerName', 'spec') ?? '',
      usages,
      ...(expirationSeconds === undefined ? {} : { expirationSeconds }),
      ...(username === undefined ? {} : { username }),
      ...(requesterUid === undefined ? {} : { uid: requesterUid }),
      ...(groups === undefined ? {} : { groups }),
      ...(extra === undefined ? {} : { extra }),
    },
    status: { conditions, ...(certificate === undefined ? {} : { certificate }) },
  };
}

/** The condition of `type` when it holds (status True; the API allows no other for the built-in types). */
export function csrCondition(
  csr: CsrObject,
  type: 'Approved' | 'Denied' | 'Failed',
): CsrCondition | undefined {
  return csr.status.conditions.find((c) => c.type === type && c.status !== 'False' && c.status !== 'Unknown');
}

export function csrPath(name: string): string {
  return `${CSR_API_PATH}/${encodeURIComponent(name)}`;
}

/** The API object for `req`; spec.request is base64 of the PEM text, as the API wants. */
export function csrBody(req: CreateCsrRequest): Record<string, unknown> {
  const hasName = req.name !== undefined && req.name !== '';
  const hasGenerate = req.generateName !== undefined && req.generateName !== '';
  if (hasName === hasGenerate)
    throw new AttestorError('ERR_INTERNAL', 'createCsr needs exactly one of name and generateName');
  return {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: {
      ...(hasName ? { name: req.name } : { generateName: req.generateName }),
      ...(req.labels === undefined ? {} : { labels: req.labels }),
    },
    spec: {
      request: Buffer.from(req.requestPem, 'utf8').toString('base64'),
      signerName: req.signerName,
      usages: [...req.usages],
      ...(req.expirationSeconds === undefined ? {} : { expirationSeconds: req.expirationSeconds }),
    },
  };
}

/** POSTs the CSR; a taken name is ERR_KUBE_API with details.status 409 (reason AlreadyExists). */
export async function createCsr(
  kube: KubeClient,
  req: CreateCsrRequest,
  signal?: AbortSignal,
): Promise<CsrObject> {
  return parseCsrObject(await kube.requestJson('POST', CSR_API_PATH, csrBody(req), signal));
}

/** GETs one CSR; a missing one is ERR_KUBE_API with details.status 404. */
export async function getCsr(kube: KubeClient, name: string, signal?: AbortSignal): Promise<CsrObject> {
  return parseCsrObject(await kube.requestJson('GET', csrPath(name), undefined, signal));
}

/** Deletes one CSR; one that is already gone counts as deleted. */
export async function deleteCsr(kube: KubeClient, name: string, signal?: AbortSignal): Promise<void> {
  try {
    await kube.requestJson('DELETE', csrPath(name), undefined, signal);
  } catch (err) {
    if (err instanceof AttestorError && err.code === 'ERR_KUBE_API' && err.details.status === 404) return;
    throw err;
  }
}

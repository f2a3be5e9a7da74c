/**
 * The CSR client the CLI and the agent plugin use: one KubeClient (one connection pool) and the
 * CSR calls bound to it.
 */
import { AttestorError, isAttestorError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { KubeAccess } from './access.js';
import { createCsr, deleteCsr, getCsr, type CreateCsrRequest, type CsrObject } from './csr-api.js';
import { createKubeClient, type KubeClient } from './http.js';
import {
  waitForCertificate,
  type CertificateResult,
  type WaitForCertificateOptions,
  type WaitTuning,
} from './wait-for-certificate.js';
import { DEFAULT_WAIT_MODE, type WaitMode } from './wait-mode.js';
import { watchCsr, type CsrWatchEvent, type WatchCsrOptions } from './watch.js';

export interface CsrClient {
  readonly kube: KubeClient;
  createCsr(req: CreateCsrRequest, signal?: AbortSignal): Promise<CsrObject>;
  getCsr(name: string, signal?: AbortSignal): Promise<CsrObject>;
  /** Idempotent: a CSR that is already gone is not an error. */
  deleteCsr(name: string, signal?: AbortSignal): Promise<void>;
  watchCsr(name: string, resourceVersion: string, opts: WatchCsrOptions): AsyncIterable<CsrWatchEvent>;
  waitForCertificate(
    name: string,
    fromResourceVersion: string,
    opts: WaitForCertificateOptions,
  ): Promise<CertificateResult>;
  /** Closes the connections; call once done. */
  close(): void;
}

export interface CsrClientOptions {
  readonly requestTimeoutMs?: number;
  readonly logger?: Logger;
  /** Retry and watch timing of waitForCertificate (tests shorten it). */
  readonly wait?: WaitTuning;
  /** How waitForCertificate waits: watch (default) or poll (see wait-mode.ts). */
  readonly waitMode?: WaitMode;
}

/**
 * A 403 to the bootstrap credential names the RBAC that grants what it needs: the API server's
 * "cannot create resource …" says what is missing, not where the product keeps the fix.
 */
export const CSR_RBAC_HINT =
  'the bootstrap user needs create and get on certificatesigningrequests: apply k8s-configs/csr-create-role.yml and csr-create-rolebinding.yml (node-bound approval: k8s-configs/approver/30-agent-rbac.yml; the deployment kit: deploy/agent/rbac.yaml)';

async function hinted<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (!isAttestorError(err, 'ERR_KUBE_FORBIDDEN')) throw err;
    throw new AttestorError(err.code, `${err.message}; ${CSR_RBAC_HINT}`, {
      cause: err,
      details: err.details,
    });
  }
}

export function createCsrClient(access: KubeAccess, opts: CsrClientOptions = {}): CsrClient {
  const kube = createKubeClient(access, {
    ...(opts.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: opts.requestTimeoutMs }),
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
  });
  // After one watch refused with 403 this client polls: roles rarely change, and each refused
  // watch costs a request (and an audit entry). A new client (restart, Configure) tries again.
  let mode = opts.waitMode ?? DEFAULT_WAIT_MODE;
  return {
    kube,
    createCsr: (req, signal) => hinted(createCsr(kube, req, signal)),
    getCsr: (name, signal) => getCsr(kube, name, signal),
    deleteCsr: (name, signal) => deleteCsr(kube, name, signal),
    watchCsr: (name, rv, wopts) => watchCsr(kube, name, rv, wopts),
    waitForCertificate: (name, rv, wopts) =>
      hinted(
        waitForCertificate(
          {
            ...opts.wait,
            kube,
            mode,
            onWatchForbidden: () => {
              mode = 'poll';
            },
            ...(opts.logger === undefined ? {} : { logger: opts.logger }),
          },
          name,
          rv,
          wopts,
        ),
      ),
    close: () => {
      kube.close();
    },
  };
}

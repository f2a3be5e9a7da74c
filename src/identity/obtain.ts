/**
 * The one obtain-or-reuse flow the CLI and the agent plugin share: check the directory, reuse a
 * fresh identity, otherwise generate a key, submit a node-client CSR, wait for the certificate,
 * verify it against our key and subject, and only then write key and certificate together.
 */
import type { KeyObject } from 'node:crypto';
import { AttestorError, toAttestorError } from '../errors.js';
import { abortError, sleep } from '../util/abort.js';
import { silentLogger } from '../log/logger.js';
import type { Logger } from '../log/logger.js';
import { csrGenerateName } from '../csr/csr-name.js';
import { exportPrivateKeyPem, generateKey, isRsaKeyType, parseKeyType } from '../csr/keys.js';
import { NODE_CLIENT_SIGNER, nodeClientUsages, validateNodeName } from '../csr/profile.js';
import { buildNodeCsr } from '../csr/request.js';
import type { CreateCsrRequest, CsrObject } from '../kube/csr-api.js';
import type { CsrClient as KubeCsrClient } from '../kube/csr-client.js';
import { MAX_EXPIRATION_MS, MIN_EXPIRATION_MS } from './defaults.js';
import { checkIdentityDirUsable, openIdentityDir } from './dir.js';
import type { IdentityDir } from './dir-handle.js';
import { isReusable } from './freshness.js';
import { identityPaths } from './layout.js';
import type { IdentityRequest } from './request.js';
import { readIdentity } from './read.js';
import { writeIdentity } from './store.js';
import type { WriteStep } from './store.js';
import { verifyIssuedCertificate } from './verify-issued.js';

/** The two calls of src/kube's client this flow uses (tests pass a small fake). */
export type CsrClient = Pick<KubeCsrClient, 'createCsr' | 'waitForCertificate'>;

const MIN_EXPIRATION_SECONDS = MIN_EXPIRATION_MS / 1000;
const MAX_EXPIRATION_SECONDS = MAX_EXPIRATION_MS / 1000;

export interface ObtainProgress {
  readonly phase: 'submitted' | 'pending' | 'approved' | 'issued';
  readonly csrName: string;
  /** Since the CSR was submitted. */
  readonly elapsedMs: number;
}

/** A request and what the flow runs with. */
export interface ObtainOptions extends IdentityRequest {
  readonly csrClient: CsrClient;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: ObtainProgress) => void;
  /** The clock for validity decisions (tests). */
  readonly now?: () => Date;
  /** For tests: fault injection into the write (see store.ts). */
  readonly onWriteStep?: (step: WriteStep) => void | Promise<void>;
  /** For tests: runs once the directory has been checked and opened, where a swap would race. */
  readonly onDirChecked?: () => void | Promise<void>;
}

export interface ObtainResult {
  readonly reused: boolean;
  /** The CSR object's name; absent when reused. */
  readonly csrName?: string;
  readonly nodeName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly keyPath: string;
  readonly certPath: string;
  /** Upper-case hex. */
  readonly serialNumber: string;
  readonly chainPem: string;
  readonly privateKey: KeyObject;
}

function usage(message: string, input: string): AttestorError {
  return new AttestorError('ERR_USAGE', message, { details: { input } });
}

function validate(o: ObtainOptions): void {
  validateNodeName(o.nodeName, 'node name');
  parseKeyType(o.keyType, 'key type');
  if (o.idDir === '') throw usage('the identity directory must not be empty', 'id-dir');
  const exp = o.expirationSeconds;
  if (
    exp !== undefined &&
    (!Number.isInteger(exp) || exp < MIN_EXPIRATION_SECONDS || exp > MAX_EXPIRATION_SECONDS)
  )
    throw usage(
      `expiration ${String(exp)}s is invalid: it must be a whole number of seconds, at least ${MIN_EXPIRATION_SECONDS} (10 minutes)`,
      'expiration',
    );
  if (!Number.isFinite(o.approvalTimeoutMs) || o.approvalTimeoutMs <= 0)
    throw usage(
      `approval timeout ${String(o.approvalTimeoutMs)}ms is invalid: it must be positive`,
      'approval-timeout',
    );
  if (o.renewBeforeMs !== undefined && (!Number.isFinite(o.renewBeforeMs) || o.renewBeforeMs < 0))
    throw usage(
      `renew-before ${String(o.renewBeforeMs)}ms is invalid: it must not be negative`,
      'renew-before',
    );
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw abortError(signal, 'obtaining the identity document');
}

export async function obtainIdentity(opts: ObtainOptions): Promise<ObtainResult> {
  const logger = (opts.logger ?? silentLogger).child({ node: opts.nodeName });
  const now = opts.now ?? (() => new Date());
  const { signal } = opts;

  // Everything that can fail locally fails here, before a CSR exists on the cluster.
  validate(opts);
  // Held open until the end: the read and the write happen in the directory checked here, even
  // if its path is swapped while the CSR waits for approval.
  const dir = await openIdentityDir(opts.idDir, opts.idDirSetting);
  try {
    await opts.onDirChecked?.();
    await checkIdentityDirUsable(dir);
    checkAborted(signal);
    return await obtainIn(dir, opts, logger, now);
  } finally {
    await dir.close();
  }
}

async function obtainIn(
  dir: IdentityDir,
  opts: ObtainOptions,
  logger: Logger,
  now: () => Date,
): Promise<ObtainResult> {
  if (opts.force) {
    // Nothing stored can change the outcome, so do not spend a read (and a parse) on it.
    logger.info('requesting a new identity document (forced)', { dir: opts.idDir });
    return issue(dir, opts, logger, now);
  }
  const existing = await readIdentity(dir);
  if (existing === undefined) {
    logger.info('no identity document yet; requesting one', { dir: opts.idDir });
  } else if (existing.status === 'broken') {
    logger.warn('the stored identity document is unusable; requesting a new one', {
      reason: existing.reason,
    });
  } else {
    const freshness = isReusable(existing, {
      nodeName: opts.nodeName,
      now: now(),
      keyType: opts.keyType,
      ...(opts.renewBeforeMs === undefined ? {} : { renewBeforeMs: opts.renewBeforeMs }),
    });
    if (freshness.reusable) {
      logger.info('reusing the stored identity document', {
        notAfter: existing.notAfter.toISOString(),
        renewAt: freshness.renewAt.toISOString(),
      });
      return {
        reused: true,
        nodeName: opts.nodeName,
        notBefore: existing.notBefore,
        notAfter: existing.notAfter,
        keyPath: existing.keyPath,
        certPath: existing.certPath,
        serialNumber: existing.serialNumber,
        chainPem: existing.chainPem,
        privateKey: existing.privateKey,
      };
    }
    logger.info('requesting a new identity document', {
      reason: freshness.reason,
      detail: freshness.message,
    });
  }
  return issue(dir, opts, logger, now);
}

async function issue(
  dir: IdentityDir,
  opts: ObtainOptions,
  logger: Logger,
  now: () => Date,
): Promise<ObtainResult> {
  const { signal } = opts;
  const progress = (p: ObtainProgress): void => {
    try {
      opts.onProgress?.(p);
    } catch (err) {
      // A progress display must not abort issuance.
      logger.debug('progress callback failed', { error: err instanceof Error ? err.message : String(err) });
    }
  };

  const key = await generateKey(opts.keyType);
  const requestPem = await buildNodeCsr({
    nodeName: opts.nodeName,
    keyType: opts.keyType,
    privateKey: key.privateKey,
  });
  checkAborted(signal);

  const submittedAt = Date.now();
  const created = await passThrough(
    createCsr(
      opts,
      {
        generateName: csrGenerateName(opts.nodeName),
        requestPem,
        signerName: NODE_CLIENT_SIGNER,
        usages: nodeClientUsages(isRsaKeyType(opts.keyType)),
        ...(opts.expirationSeconds === undefined ? {} : { expirationSeconds: opts.expirationSeconds }),
      },
      submittedAt + opts.approvalTimeoutMs,
      logger,
    ),
  );
  const csrName = created.metadata.name;
  logger.info('submitted certificate signing request', { csr: csrName, keyType: opts.keyType });
  progress({ phase: 'submitted', csrName, elapsedMs: Date.now() - submittedAt });

  const issued = await passThrough(
    opts.csrClient.waitForCertificate(csrName, created.metadata.resourceVersion, {
      deadline: submittedAt + opts.approvalTimeoutMs,
      ...(signal === undefined ? {} : { signal }),
      onProgress: (p) => {
        progress({ phase: p.phase, csrName, elapsedMs: p.elapsedMs });
      },
    }),
  );

  const cert = verifyIssuedCertificate(issued.certificateChainPem, {
    key: key.publicKey,
    nodeName: opts.nodeName,
    now: now(),
    csrName,
  });
  progress({ phase: 'issued', csrName, elapsedMs: Date.now() - submittedAt });

  // No cancellation from here on: the CSR is spent, and saving its certificate (milliseconds)
  // spares the next run a new request.
  const paths = identityPaths(opts.idDir);
  await writeIdentity(
    dir,
    { keyPem: exportPrivateKeyPem(key.privateKey), chainPem: issued.certificateChainPem },
    { logger, ...(opts.onWriteStep === undefined ? {} : { onStep: opts.onWriteStep }) },
  );
  logger.info('wrote identity document', {
    csr: csrName,
    cert: paths.certPath,
    notAfter: cert.fields.notAfter.toISOString(),
  });
  return {
    reused: false,
    csrName,
    nodeName: opts.nodeName,
    notBefore: cert.fields.notBefore,
    notAfter: cert.fields.notAfter,
    keyPath: paths.keyPath,
    certPath: paths.certPath,
    serialNumber: cert.leaf.serialNumber,
    chainPem: issued.certificateChainPem,
    privateKey: key.privateKey,
  };
}

/** First wait after an HTTP 429 on create; doubles up to CREATE_MAX_BACKOFF_MS. */
export const CREATE_INITIAL_BACKOFF_MS = 250;
export const CREATE_MAX_BACKOFF_MS = 8000;

/**
 * Creates the CSR, retrying while the API server answers 429 Too Many Requests, until the
 * deadline. A 429 (API Priority and Fairness, or the max-inflight limit) is sent before the
 * request is handled, so nothing was created and the retry cannot duplicate the CSR. Many nodes
 * starting at once (a new node pool, a cluster restart) meet exactly this; the waits are jittered
 * so that they do not come back together. Every other error is final here, as before.
 */
async function createCsr(
  opts: ObtainOptions,
  req: CreateCsrRequest,
  deadline: number,
  logger: Logger,
): Promise<CsrObject> {
  let backoff = CREATE_INITIAL_BACKOFF_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await opts.csrClient.createCsr(req, opts.signal);
    } catch (err) {
      if (!(err instanceof AttestorError && err.code === 'ERR_KUBE_API' && err.details.status === 429))
        throw err;
      const wait = Math.round(backoff * (0.5 + Math.random() / 2));
      if (Date.now() + wait > deadline) throw err;
      logger.info('the API server is busy (HTTP 429); retrying the certificate signing request', {
        attempt,
        wait_ms: wait,
      });
      await sleep(wait, opts.signal, 'waiting to retry the certificate signing request');
      backoff = Math.min(backoff * 2, CREATE_MAX_BACKOFF_MS);
    }
  }
}

/** The CSR client reports AttestorErrors (denied, failed, timeout...); anything else is a bug there. */
async function passThrough<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw toAttestorError(err);
  }
}

/**
 * Maps what can go wrong talking to the API server onto AttestorError codes, with one-line
 * messages that say what to check. Nothing here quotes a token, a key or a request body.
 */
import { AttestorError, type ErrorDetails } from '../errors.js';

/** What a message may say about the request. */
export interface RequestContext {
  /** e.g. https://127.0.0.1:6443 */
  readonly server: string;
  readonly host: string;
  readonly method: string;
  /** The API path, without the query. */
  readonly path: string;
  /** Where the server's trust comes from, e.g. `-ca-cert /x/ca.crt`. */
  readonly caSource: string;
  /** The credentials in words, e.g. `client certificate CN=spire-agent`; never their content. */
  readonly credentials: string;
}

/** A Kubernetes `Status` (the body of API errors and of watch ERROR events). */
export interface KubeStatus {
  readonly status?: string;
  readonly message?: string;
  readonly reason?: string;
  readonly code?: number;
}

export function parseStatus(value: unknown): KubeStatus | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v.kind !== 'Status' && typeof v.code !== 'number') return undefined;
  return {
    ...(typeof v.status === 'string' ? { status: v.status } : {}),
    ...(typeof v.message === 'string' ? { message: v.message } : {}),
    ...(typeof v.reason === 'string' ? { reason: v.reason } : {}),
    ...(typeof v.code === 'number' ? { code: v.code } : {}),
  };
}

/** Collapses whitespace and bounds the length so a message stays on one line. */
export function oneLine(text: string, max = 300): string {
  const s = text.replace(/\s+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

const VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const UNREACHABLE_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed by the server',
  ECONNABORTED: 'connection aborted',
  EHOSTUNREACH: 'host unreachable',
  EHOSTDOWN: 'host down',
  ENETUNREACH: 'network unreachable',
  ENETDOWN: 'network down',
  EADDRNOTAVAIL: 'address not available',
};

function errCode(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

function errMessage(err: unknown): string {
  return oneLine(err instanceof Error ? err.message : String(err), 200);
}

/** Internal markers set by the transport on errors it creates itself. */
export const REQUEST_TIMEOUT = 'ERR_KUBE_REQUEST_TIMEOUT';
export const WATCH_STALLED = 'ERR_KUBE_WATCH_STALLED';

export function transportError(err: unknown, ctx: RequestContext): AttestorError {
  if (err instanceof AttestorError) return err;
  const code = errCode(err);
  const details: ErrorDetails = {
    server: ctx.server,
    method: ctx.method,
    path: ctx.path,
    ...(code === undefined ? {} : { errno: code }),
  };
  const unreachable = (what: string): AttestorError =>
    new AttestorError(
      'ERR_KUBE_UNREACHABLE',
      `cannot reach the Kubernetes API server at ${ctx.server}: ${what}`,
      {
        cause: err,
        details,
      },
    );
  const tlsFail = (what: string): AttestorError =>
    new AttestorError('ERR_KUBE_TLS', `TLS with the Kubernetes API server at ${ctx.server} failed: ${what}`, {
      cause: err,
      details,
    });

  if (code !== undefined && VERIFY_CODES.has(code)) {
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH')
      return tlsFail(
        `the server's certificate is not valid for ${ctx.host} (${errMessage(err)}); connect by a name or IP in the certificate, or set tls-server-name`,
      );
    if (code === 'CERT_HAS_EXPIRED') return tlsFail(`the server's certificate has expired (${code})`);
    if (code === 'CERT_NOT_YET_VALID')
      return tlsFail(`the server's certificate is not yet valid (${code}); check this machine's clock`);
    return tlsFail(
      `the server's certificate is not trusted by ${ctx.caSource} (${code}); give the cluster CA (or the API server's own certificate) with -ca-cert`,
    );
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'EPROTO')
    return tlsFail(`TLS handshake failed (${errMessage(err)}); is ${ctx.server} an HTTPS endpoint?`);
  if (
    code !== undefined &&
    /^ERR_SSL_.*ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN)/.test(code)
  )
    return tlsFail(`the server rejected the client certificate (${code}); ${ctx.credentials}`);
  if (code !== undefined && (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')))
    return tlsFail(`TLS handshake failed (${errMessage(err)})`);

  if (code === REQUEST_TIMEOUT || code === WATCH_STALLED) return unreachable(errMessage(err));
  if (code === 'ENOTFOUND') return unreachable(`DNS lookup of ${ctx.host} failed (ENOTFOUND)`);
  if (code === 'EAI_AGAIN') return unreachable(`DNS lookup of ${ctx.host} failed temporarily (EAI_AGAIN)`);
  if (code === 'ETIMEDOUT') return unreachable(`connection timed out (${errMessage(err)})`);
  if (code !== undefined && code in UNREACHABLE_CODES) return unreachable(UNREACHABLE_CODES[code] ?? code);
  return unreachable(code === undefined ? errMessage(err) : `${errMessage(err)} (${code})`);
}

/** An HTTP error answer as an AttestorError; `body` is the parsed JSON when there was one. */
export function statusError(httpStatus: number, body: unknown, ctx: RequestContext): AttestorError {
  const st = parseStatus(body);
  const reason = st?.reason ?? '';
  const message = st?.message === undefined ? '' : oneLine(st.message);
  const details: ErrorDetails = {
    server: ctx.server,
    method: ctx.method,
    path: ctx.path,
    status: httpStatus,
    ...(reason === '' ? {} : { reason }),
    ...(message === '' ? {} : { message }),
  };
  if (httpStatus === 401)
    return new AttestorError(
      'ERR_KUBE_UNAUTHORIZED',
      `the Kubernetes API server at ${ctx.server} did not accept the credentials (${ctx.credentials}): 401 Unauthorized; check that they are issued for this cluster and not expired`,
      { details },
    );
  if (httpStatus === 403)
    return new AttestorError(
      'ERR_KUBE_FORBIDDEN',
      `the Kubernetes API server at ${ctx.server} refused ${ctx.method} ${ctx.path}: ${message === '' ? '403 Forbidden' : message}`,
      { details },
    );
  const what = [reason, message].filter((s) => s !== '').join(': ');
  return new AttestorError(
    'ERR_KUBE_API',
    `${ctx.method} ${ctx.path} at ${ctx.server} failed: HTTP ${httpStatus}${what === '' ? '' : ` ${what}`}`,
    { details },
  );
}

/** A 2xx answer whose body is not what the API promises. */
export function malformedError(problem: string, ctx: RequestContext, cause?: unknown): AttestorError {
  return new AttestorError('ERR_KUBE_API', `${ctx.method} ${ctx.path} at ${ctx.server}: ${problem}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { server: ctx.server, method: ctx.method, path: ctx.path },
  });
}

/** Whether waiting code should retry after `err` (network trouble, overload, server errors). */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof AttestorError)) return false;
  if (err.code === 'ERR_KUBE_UNREACHABLE') return true;
  if (err.code !== 'ERR_KUBE_API') return false;
  const status = err.details.status;
  return typeof status === 'number' && (status === 429 || status >= 500);
}

/** The one-line result (text) or the result object (--output json) on stdout. */
import type { AttestorError } from '../../errors.js';
import type { ObtainResult } from '../../identity/obtain.js';

export interface JsonResult {
  readonly status: 'issued' | 'reused';
  readonly nodeName: string;
  readonly csrName?: string;
  readonly keyPath: string;
  readonly certPath: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly serialNumber: string;
}

export function resultText(r: ObtainResult): string {
  const what = r.reused
    ? `reused the identity of node ${r.nodeName}`
    : `issued an identity for node ${r.nodeName} (CSR ${r.csrName ?? '?'})`;
  return `${what}: ${r.certPath} and ${r.keyPath}, valid until ${r.notAfter.toISOString()}\n`;
}

export function resultJson(r: ObtainResult): string {
  const out: JsonResult = {
    status: r.reused ? 'reused' : 'issued',
    nodeName: r.nodeName,
    ...(r.csrName !== undefined ? { csrName: r.csrName } : {}),
    keyPath: r.keyPath,
    certPath: r.certPath,
    notBefore: r.notBefore.toISOString(),
    notAfter: r.notAfter.toISOString(),
    serialNumber: r.serialNumber,
  };
  return `${JSON.stringify(out)}\n`;
}

export function errorJson(err: AttestorError, exitCode: number): string {
  return `${JSON.stringify({ status: 'error', code: err.code, exitCode, message: err.message, details: err.details })}\n`;
}

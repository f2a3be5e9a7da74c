/**
 * Strict PEM certificate-chain reading for the agent: only CERTIFICATE blocks, nothing but
 * whitespace between them, canonical base64. The identity document is ours, so anything else
 * (a private key pasted in, a truncated file) is reported rather than skipped.
 */
import { AttestorError } from '../errors.js';
import { decodeStdBase64 } from './internal/base64.js';
import { quote } from './internal/text.js';

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

/** The DER of each CERTIFICATE block, in order; `what` names the input in ERR_INPUT messages. */
export function parsePemCertificates(pem: string, what: string): Buffer[] {
  const ders: Buffer[] = [];
  let last = 0;
  for (const m of pem.matchAll(BLOCK)) {
    const [whole, begin = '', body = '', end = ''] = m;
    if (pem.slice(last, m.index).trim() !== '')
      throw new AttestorError(
        'ERR_INPUT',
        `${what} has text outside PEM blocks before block ${ders.length + 1}`,
      );
    last = m.index + whole.length;
    if (begin !== end)
      throw new AttestorError(
        'ERR_INPUT',
        `${what} block ${ders.length + 1} begins ${quote(begin)} but ends ${quote(end)}`,
      );
    if (begin !== 'CERTIFICATE')
      throw new AttestorError(
        'ERR_INPUT',
        `${what} block ${ders.length + 1} is ${quote(begin)}; only CERTIFICATE blocks are allowed`,
      );
    const der = decodeStdBase64(body.replace(/\s+/g, ''));
    if (der === undefined || der.length === 0)
      throw new AttestorError('ERR_INPUT', `${what} block ${ders.length + 1} is not valid base64`);
    ders.push(der);
  }
  if (pem.slice(last).trim() !== '')
    throw new AttestorError(
      'ERR_INPUT',
      ders.length === 0
        ? `${what} has no PEM CERTIFICATE block`
        : `${what} has text after the last PEM block`,
    );
  if (ders.length === 0) throw new AttestorError('ERR_INPUT', `${what} has no PEM CERTIFICATE block`);
  return ders;
}

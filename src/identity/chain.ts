/** Splitting a PEM certificate chain (status.certificate, id-doc.crt) into parsed certificates. */
import { X509Certificate } from 'node:crypto';
import { AttestorError } from '../errors.js';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

/**
 * Every block must be a CERTIFICATE that OpenSSL parses; the first is the leaf. Text outside the
 * blocks is ignored, as PEM allows. Throws ERR_INPUT saying what is wrong.
 */
export function parseCertificateChain(pem: string): [X509Certificate, ...X509Certificate[]] {
  const certs: X509Certificate[] = [];
  for (const [i, m] of [...pem.matchAll(PEM_BLOCK)].entries()) {
    if (m[1] !== 'CERTIFICATE')
      throw new AttestorError(
        'ERR_INPUT',
        `PEM block ${i + 1} is a ${JSON.stringify(m[1])}, not a CERTIFICATE`,
      );
    try {
      certs.push(new X509Certificate(m[0]));
    } catch (err) {
      throw new AttestorError('ERR_INPUT', `certificate ${i + 1} does not parse`, { cause: err });
    }
  }
  const [leaf, ...rest] = certs;
  if (leaf === undefined) throw new AttestorError('ERR_INPUT', 'no PEM certificate found');
  return [leaf, ...rest];
}

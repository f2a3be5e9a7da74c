/**
 * Splitting a PEM certificate chain (status.certificate, id-doc.crt) into parsed certificates:
 * src/x509/pem.ts does the reading, this file words its problems for the identity code.
 */
import type { X509Certificate } from 'node:crypto';
import { AttestorError } from '../errors.js';
import { parsePemChain, sizeProblemText, type ChainProblem, type PemInput } from '../x509/pem.js';

/**
 * Every block must be a CERTIFICATE that OpenSSL parses; the first is the leaf. Text outside the
 * blocks is ignored, as PEM allows. Throws ERR_INPUT saying what is wrong.
 */
export function parseCertificateChain(pem: PemInput): [X509Certificate, ...X509Certificate[]] {
  const r = parsePemChain(pem);
  if (!r.ok) throw chainError(r.problem);
  const [leaf, ...rest] = r.value.map((c) => c.cert);
  // parsePemChain never returns an empty chain; this satisfies the tuple type.
  if (leaf === undefined) throw chainError({ kind: 'no-certificate' });
  return [leaf, ...rest];
}

function chainError(p: ChainProblem): AttestorError {
  switch (p.kind) {
    case 'not-certificate':
      return new AttestorError(
        'ERR_INPUT',
        `PEM block ${p.block} is a ${JSON.stringify(p.label)}, not a CERTIFICATE`,
      );
    case 'unparsable':
      return new AttestorError('ERR_INPUT', `certificate ${p.certificate} does not parse`, {
        cause: p.cause,
      });
    case 'no-certificate':
      return new AttestorError('ERR_INPUT', 'no PEM certificate found');
    case 'mismatched-end':
      return new AttestorError(
        'ERR_INPUT',
        `PEM block ${p.block} begins ${JSON.stringify(p.begin)} but ends ${JSON.stringify(p.end)}`,
      );
    case 'too-large':
    case 'certificate-too-large':
      return new AttestorError('ERR_INPUT', `the chain ${sizeProblemText(p)}`);
  }
}

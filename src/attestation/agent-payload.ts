/**
 * Agent side: the certificate chain the CSR API issued (PEM, leaf first) → the attestation
 * payload. Checks here mirror the server's limits so a problem shows up on the node, named, rather
 * than as a refusal from the server.
 */
import { X509Certificate } from 'node:crypto';
import { AttestorError } from '../errors.js';
import { quote } from './internal/text.js';
import { DEFAULT_PAYLOAD_LIMITS, encodePayload } from './payload.js';
import { parsePemCertificates } from './pem.js';
import { clusterNameProblem } from './spiffe-id.js';

const WHAT = 'identity certificate chain (PEM)';

/**
 * Builds the payload; malformed PEM or certificates are ERR_INPUT, an invalid cluster name is
 * ERR_CONFIG. `cluster` is omitted from the payload when undefined (x509pop-compatible).
 */
export function buildAgentPayload(chainPem: string, cluster: string | undefined): Buffer {
  if (cluster !== undefined) {
    const problem = clusterNameProblem(cluster);
    if (problem !== undefined)
      throw new AttestorError('ERR_CONFIG', `cluster name ${quote(cluster)} is invalid: it ${problem}`, {
        details: { key: 'cluster' },
      });
  }
  const ders = parsePemCertificates(chainPem, WHAT);
  const { maxIntermediates, maxCertificateBytes } = DEFAULT_PAYLOAD_LIMITS;
  if (ders.length > 1 + maxIntermediates)
    throw new AttestorError(
      'ERR_INPUT',
      `${WHAT} has ${ders.length} certificates; servers accept the leaf and at most ${maxIntermediates} intermediates by default`,
    );
  ders.forEach((der, i) => {
    if (der.length > maxCertificateBytes)
      throw new AttestorError(
        'ERR_INPUT',
        `${WHAT} certificate ${i + 1} is ${der.length} bytes; the limit is ${maxCertificateBytes}`,
      );
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch (err) {
      throw new AttestorError(
        'ERR_INPUT',
        `${WHAT} certificate ${i + 1} does not parse: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    if (i === 0 && cert.ca)
      throw new AttestorError(
        'ERR_INPUT',
        `${WHAT} starts with a CA certificate (${quote(cert.subject.replace(/\n/g, ', '))}); the node's own certificate must come first`,
      );
  });
  return encodePayload(cluster === undefined ? { certificates: ders } : { certificates: ders, cluster });
}

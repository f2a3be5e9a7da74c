/**
 * The attestation payload: x509pop's AttestationData JSON exactly as Go encodes it,
 * `{"certificates":["<std base64 DER leaf>","<DER intermediate>",…]}`, plus our agent's optional
 * `"cluster"`. SPIRE's built-in x509pop server ignores unknown keys, so our agent stays
 * interoperable with it; our server is strict and refuses any other key.
 */
import { AttestorError } from '../errors.js';
import { decodeStdBase64, encodeStdBase64, maxBase64Length } from '../util/base64.js';
import { checkKeys, jsonTypeName, own, parseJsonObject } from './internal/json.js';
import { quote } from './internal/text.js';
import { MAX_CERTIFICATE_DER_BYTES } from '../x509/limits.js';
import { clusterNameProblem } from './spiffe-id.js';

export interface AttestationPayload {
  /** DER certificates, leaf first. */
  readonly certificates: readonly Buffer[];
  /** The cluster the agent says it belongs to; absent from SPIRE's own x509pop agent. */
  readonly cluster?: string;
}

export interface PayloadLimits {
  /** Largest accepted payload in bytes. */
  readonly maxBytes: number;
  /** Largest number of intermediates after the leaf. */
  readonly maxIntermediates: number;
  /** Largest accepted DER size of one certificate. */
  readonly maxCertificateBytes: number;
}

export const DEFAULT_MAX_INTERMEDIATES = 4;

export const DEFAULT_PAYLOAD_LIMITS: PayloadLimits = Object.freeze({
  maxBytes: 64 * 1024,
  maxIntermediates: DEFAULT_MAX_INTERMEDIATES,
  maxCertificateBytes: MAX_CERTIFICATE_DER_BYTES,
});

/** Encodes the payload the agent sends; key order and base64 flavour match Go's json.Marshal. */
export function encodePayload(payload: AttestationPayload): Buffer {
  if (payload.certificates.length === 0)
    throw new AttestorError('ERR_PAYLOAD', 'attestation payload needs at least one certificate');
  const json: { certificates: string[]; cluster?: string } = {
    certificates: payload.certificates.map((der) => encodeStdBase64(der)),
  };
  if (payload.cluster !== undefined) json.cluster = payload.cluster;
  return Buffer.from(JSON.stringify(json), 'utf8');
}

/** Decodes and strictly validates a payload; every failure is ERR_PAYLOAD naming the problem. */
export function decodePayload(bytes: Uint8Array, limits: Partial<PayloadLimits> = {}): AttestationPayload {
  const { maxBytes, maxIntermediates, maxCertificateBytes } = { ...DEFAULT_PAYLOAD_LIMITS, ...limits };
  const obj = parseJsonObject(bytes, 'attestation payload', maxBytes);
  checkKeys(obj, ['certificates', 'cluster'], 'attestation payload');

  const list = own(obj, 'certificates');
  if (list === undefined)
    throw new AttestorError('ERR_PAYLOAD', 'attestation payload has no "certificates" key');
  if (!Array.isArray(list))
    throw new AttestorError(
      'ERR_PAYLOAD',
      `attestation payload "certificates" must be an array, not ${jsonTypeName(list)}`,
    );
  if (list.length === 0)
    throw new AttestorError(
      'ERR_PAYLOAD',
      'attestation payload "certificates" is empty: no certificate to attest',
    );
  const maxCertificates = 1 + maxIntermediates;
  if (list.length > maxCertificates)
    throw new AttestorError(
      'ERR_PAYLOAD',
      `attestation payload has ${list.length} certificates; the limit is ${maxCertificates} (the leaf and at most ${maxIntermediates} intermediates)`,
      { details: { count: list.length, limit: maxCertificates } },
    );

  const maxText = maxBase64Length(maxCertificateBytes);
  const certificates = list.map((item: unknown, i): Buffer => {
    const what = `attestation payload certificate ${i}${i === 0 ? ' (the leaf)' : ''}`;
    if (typeof item !== 'string')
      throw new AttestorError('ERR_PAYLOAD', `${what} must be a base64 string, not ${jsonTypeName(item)}`);
    if (item.length > maxText)
      throw new AttestorError(
        'ERR_PAYLOAD',
        `${what} is larger than the limit of ${maxCertificateBytes} DER bytes`,
        { details: { index: i, limit: maxCertificateBytes } },
      );
    const der = decodeStdBase64(item);
    if (der === undefined)
      throw new AttestorError('ERR_PAYLOAD', `${what} is not standard base64 with padding`, {
        details: { index: i },
      });
    if (der.length === 0)
      throw new AttestorError('ERR_PAYLOAD', `${what} is empty`, { details: { index: i } });
    if (der.length > maxCertificateBytes)
      throw new AttestorError(
        'ERR_PAYLOAD',
        `${what} is ${der.length} DER bytes; the limit is ${maxCertificateBytes}`,
        { details: { index: i, size: der.length, limit: maxCertificateBytes } },
      );
    return der;
  });

  const cluster = own(obj, 'cluster');
  if (cluster === undefined) return { certificates };
  if (typeof cluster !== 'string')
    throw new AttestorError(
      'ERR_PAYLOAD',
      `attestation payload "cluster" must be a string, not ${jsonTypeName(cluster)}`,
    );
  const problem = clusterNameProblem(cluster);
  if (problem !== undefined)
    throw new AttestorError(
      'ERR_PAYLOAD',
      `attestation payload "cluster" ${quote(cluster)} is not a valid cluster name: ${problem}`,
    );
  return { certificates, cluster };
}

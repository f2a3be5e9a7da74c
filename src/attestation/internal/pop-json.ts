/** Shared readers for the x509pop challenge and response JSON, which have the same envelope. */
import { AttestorError } from '../../errors.js';
import type { PopKind } from '../pop-key.js';
import { decodeStdBase64 } from '../../util/base64.js';
import { asObject, checkKeys, jsonTypeName, own, type JsonObject } from './json.js';

/** Finds the one non-null member of `{"rsa_signature":…,"ecdsa_signature":…}`. */
export function pickKind(obj: JsonObject, what: string): { kind: PopKind; inner: JsonObject } {
  checkKeys(obj, ['rsa_signature', 'ecdsa_signature'], what);
  const rsa = own(obj, 'rsa_signature') ?? null;
  const ecdsa = own(obj, 'ecdsa_signature') ?? null;
  if (rsa !== null && ecdsa !== null)
    throw new AttestorError('ERR_PAYLOAD', `${what} has both "rsa_signature" and "ecdsa_signature"`);
  if (rsa !== null) return { kind: 'rsa', inner: asObject(rsa, `${what} "rsa_signature"`) };
  if (ecdsa !== null) return { kind: 'ecdsa', inner: asObject(ecdsa, `${what} "ecdsa_signature"`) };
  throw new AttestorError('ERR_PAYLOAD', `${what} has neither "rsa_signature" nor "ecdsa_signature"`);
}

/**
 * Reads a required base64 field. `length` pins an exact size; otherwise the field must be 1 to
 * `maxLength` bytes.
 */
export function readBytes(
  obj: JsonObject,
  key: string,
  what: string,
  length?: number,
  maxLength = 2048,
): Buffer {
  const value = own(obj, key);
  if (value === undefined) throw new AttestorError('ERR_PAYLOAD', `${what} has no "${key}"`);
  if (typeof value !== 'string')
    throw new AttestorError(
      'ERR_PAYLOAD',
      `${what} "${key}" must be a base64 string, not ${jsonTypeName(value)}`,
    );
  const limit = length ?? maxLength;
  // Bound the work before decoding: base64 is 4 characters per 3 bytes.
  if (value.length > Math.ceil(limit / 3) * 4)
    throw new AttestorError('ERR_PAYLOAD', `${what} "${key}" is longer than ${limit} bytes`);
  const bytes = decodeStdBase64(value);
  if (bytes === undefined)
    throw new AttestorError('ERR_PAYLOAD', `${what} "${key}" is not standard base64 with padding`);
  if (length !== undefined && bytes.length !== length)
    throw new AttestorError('ERR_PAYLOAD', `${what} "${key}" is ${bytes.length} bytes; it must be ${length}`);
  if (length === undefined && bytes.length === 0)
    throw new AttestorError('ERR_PAYLOAD', `${what} "${key}" is empty`);
  if (bytes.length > limit)
    throw new AttestorError('ERR_PAYLOAD', `${what} "${key}" is longer than ${limit} bytes`);
  return bytes;
}

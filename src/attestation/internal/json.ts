/**
 * Strict JSON reading for the x509pop wire messages: bounded size, UTF-8 only, objects with a
 * closed set of keys. Every failure is an AttestorError with the caller's code, never a raw
 * SyntaxError, so the plugins can map it to InvalidArgument.
 */
import { AttestorError, type ErrorCode } from '../../errors.js';
import { quote } from './text.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export type JsonObject = Readonly<Record<string, unknown>>;

/** Parses `bytes` as one JSON object of at most `maxBytes` bytes; `what` names it in messages. */
export function parseJsonObject(
  bytes: Uint8Array,
  what: string,
  maxBytes: number,
  code: ErrorCode = 'ERR_PAYLOAD',
): JsonObject {
  if (bytes.byteLength === 0) throw new AttestorError(code, `${what} is empty`);
  if (bytes.byteLength > maxBytes)
    throw new AttestorError(code, `${what} is ${bytes.byteLength} bytes; the limit is ${maxBytes}`, {
      details: { size: bytes.byteLength, limit: maxBytes },
    });
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (err) {
    throw new AttestorError(code, `${what} is not valid UTF-8`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AttestorError(code, `${what} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return asObject(value, what, code);
}

export function asObject(value: unknown, what: string, code: ErrorCode = 'ERR_PAYLOAD'): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new AttestorError(code, `${what} must be a JSON object, not ${jsonTypeName(value)}`);
  return value as JsonObject;
}

/** Rejects any key outside `allowed`; unknown keys are either attacks or version skew, both worth a loud error. */
export function checkKeys(
  obj: JsonObject,
  allowed: readonly string[],
  what: string,
  code: ErrorCode = 'ERR_PAYLOAD',
): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key))
      throw new AttestorError(
        code,
        `${what} has an unexpected key ${quote(key)} (allowed: ${allowed.join(', ')})`,
      );
  }
}

export function jsonTypeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' ? 'an object' : `a ${type}`;
}

/** The value of an own property, so a key like "constructor" never reads Object.prototype. */
export function own(obj: JsonObject, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

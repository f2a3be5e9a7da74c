/**
 * The x509pop challenge the server sends, exactly as Go's json.Marshal writes it:
 * `{"rsa_signature":{"nonce":"<b64>"},"ecdsa_signature":null}` or the ECDSA mirror image.
 */
import { encodeStdBase64 } from '../util/base64.js';
import { checkKeys, parseJsonObject } from './internal/json.js';
import { pickKind, readBytes } from './internal/pop-json.js';
import { NONCE_BYTES } from './nonces.js';
import type { PopKind } from './pop-key.js';

export interface PopChallenge {
  readonly kind: PopKind;
  /** The server's 32-byte nonce. */
  readonly nonce: Buffer;
}

/** A challenge is ~100 bytes; anything near this limit is not one. */
export const MAX_CHALLENGE_BYTES = 4096;

const KIND_KEYS: Readonly<Record<PopKind, string>> = { rsa: 'rsa_signature', ecdsa: 'ecdsa_signature' };

export function encodeChallenge(challenge: PopChallenge): Buffer {
  const inner = { nonce: encodeStdBase64(challenge.nonce) };
  const json =
    challenge.kind === 'rsa'
      ? { rsa_signature: inner, ecdsa_signature: null }
      : { rsa_signature: null, ecdsa_signature: inner };
  return Buffer.from(JSON.stringify(json), 'utf8');
}

/** Decodes a server challenge (agent side); malformed input is ERR_PAYLOAD. */
export function decodeChallenge(bytes: Uint8Array): PopChallenge {
  const obj = parseJsonObject(bytes, 'challenge', MAX_CHALLENGE_BYTES);
  const { kind, inner } = pickKind(obj, 'challenge');
  const what = `challenge ${KIND_KEYS[kind]}`;
  checkKeys(inner, ['nonce'], what);
  return { kind, nonce: readBytes(inner, 'nonce', what, NONCE_BYTES) };
}

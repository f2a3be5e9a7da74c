/**
 * The x509pop challenge response the agent sends, exactly as Go's json.Marshal writes it:
 * RSA `{"rsa_signature":{"nonce":…,"signature":…},"ecdsa_signature":null}`,
 * ECDSA `{"rsa_signature":null,"ecdsa_signature":{"nonce":…,"r":…,"s":…}}`.
 * The nonce here is the agent's own; the server's nonce is not echoed, it is bound in through the
 * signed digest.
 */
import { encodeStdBase64 } from '../util/base64.js';
import { checkKeys, parseJsonObject } from './internal/json.js';
import { pickKind, readBytes } from './internal/pop-json.js';
import { NONCE_BYTES } from './nonces.js';

export type PopResponse =
  | { readonly kind: 'rsa'; readonly nonce: Buffer; readonly signature: Buffer }
  | { readonly kind: 'ecdsa'; readonly nonce: Buffer; readonly r: Buffer; readonly s: Buffer };

/** An RSA-8192 response is ~1.5 KiB of JSON. */
export const MAX_RESPONSE_BYTES = 8192;
/** RSA signatures are at most the modulus size: 8192 bits. */
const MAX_RSA_SIGNATURE_BYTES = 1024;
/** r and s longer than this cannot be valid for any allowed curve; the verifier checks the exact size. */
const MAX_ECDSA_SCALAR_BYTES = 66;

export function encodeResponse(response: PopResponse): Buffer {
  const json =
    response.kind === 'rsa'
      ? {
          rsa_signature: {
            nonce: encodeStdBase64(response.nonce),
            signature: encodeStdBase64(response.signature),
          },
          ecdsa_signature: null,
        }
      : {
          rsa_signature: null,
          ecdsa_signature: {
            nonce: encodeStdBase64(response.nonce),
            r: encodeStdBase64(response.r),
            s: encodeStdBase64(response.s),
          },
        };
  return Buffer.from(JSON.stringify(json), 'utf8');
}

/** Decodes a challenge response (server side); malformed input is ERR_PAYLOAD. */
export function decodeResponse(bytes: Uint8Array): PopResponse {
  const obj = parseJsonObject(bytes, 'challenge response', MAX_RESPONSE_BYTES);
  const { kind, inner } = pickKind(obj, 'challenge response');
  if (kind === 'rsa') {
    const what = 'challenge response rsa_signature';
    checkKeys(inner, ['nonce', 'signature'], what);
    return {
      kind,
      nonce: readBytes(inner, 'nonce', what, NONCE_BYTES),
      signature: readBytes(inner, 'signature', what, undefined, MAX_RSA_SIGNATURE_BYTES),
    };
  }
  const what = 'challenge response ecdsa_signature';
  checkKeys(inner, ['nonce', 'r', 's'], what);
  return {
    kind,
    nonce: readBytes(inner, 'nonce', what, NONCE_BYTES),
    r: readBytes(inner, 'r', what, undefined, MAX_ECDSA_SCALAR_BYTES),
    s: readBytes(inner, 's', what, undefined, MAX_ECDSA_SCALAR_BYTES),
  };
}

/**
 * Strict standard base64 (RFC 4648 §4, with padding), the encoding Go's encoding/json uses for
 * []byte. Node's Buffer.from(s, 'base64') silently skips invalid characters and accepts URL-safe
 * and unpadded input, so a payload that Go would reject could slip through; we reject it instead.
 */
const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The decoded bytes, or undefined when `text` is not canonical standard base64. */
export function decodeStdBase64(text: string): Buffer | undefined {
  if (!STD_BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  // Non-zero padding bits ("QQ==" vs "QR==") decode to the same bytes; only the canonical form is accepted.
  if (bytes.toString('base64') !== text) return undefined;
  return bytes;
}

export function encodeStdBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** The longest base64 text that can decode to at most `maxBytes` bytes. */
export function maxBase64Length(maxBytes: number): number {
  return Math.ceil(maxBytes / 3) * 4;
}

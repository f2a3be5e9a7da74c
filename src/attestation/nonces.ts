/** x509pop nonces: 32 random bytes from each side, bound together by SHA-256(challenge ‖ response). */
export const NONCE_BYTES = 32;

/**
 * The data both sides sign and verify. node:crypto's sign('sha256', data, …) hashes `data`, so it
 * signs SHA-256(challenge ‖ response), exactly the digest Go's x509pop passes to its signers.
 */
export function signedData(challengeNonce: Uint8Array, responseNonce: Uint8Array): Buffer {
  return Buffer.concat([challengeNonce, responseNonce]);
}

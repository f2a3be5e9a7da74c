/**
 * Agent side of x509pop proof of possession: sign SHA-256(server nonce ‖ our nonce) with the
 * identity key. RSA uses PSS with SHA-256, MGF1-SHA-256 and the maximum salt, as Go's
 * rsa.SignPSS(…, nil) does; ECDSA emits r and s minimal big-endian, as Go's big.Int.Bytes() does.
 */
import { constants, randomBytes, sign, type KeyObject } from 'node:crypto';
import { AttestorError } from '../errors.js';
import { decodeChallenge } from './challenge.js';
import { NONCE_BYTES, signedData } from './nonces.js';
import { describeKey, popKind } from './pop-key.js';
import { encodeResponse } from './response.js';

const KIND_NAMES = { rsa: 'RSA', ecdsa: 'ECDSA' } as const;

/**
 * Answers a server challenge with `privateKey`. A key x509pop cannot use (Ed25519, …) is
 * ERR_CONFIG; a malformed challenge is ERR_PAYLOAD; a challenge for the other key kind (the
 * certificate sent does not belong to this key) is ERR_POP.
 */
export function answerChallenge(challengeBytes: Uint8Array, privateKey: KeyObject): Buffer {
  if (privateKey.type !== 'private')
    throw new AttestorError(
      'ERR_CONFIG',
      `the identity key must be a private key, not a ${privateKey.type} key`,
    );
  const kind = popKind(privateKey);
  if (kind === undefined)
    throw new AttestorError(
      'ERR_CONFIG',
      `the identity key is ${describeKey(privateKey)}; x509pop proof of possession supports only RSA and ECDSA keys`,
      { details: { keyType: privateKey.asymmetricKeyType ?? 'unknown' } },
    );
  const challenge = decodeChallenge(challengeBytes);
  if (challenge.kind !== kind)
    throw new AttestorError(
      'ERR_POP',
      `the server sent an ${KIND_NAMES[challenge.kind]} challenge but the identity key is ${KIND_NAMES[kind]}; does the certificate belong to this key?`,
    );

  const nonce = randomBytes(NONCE_BYTES);
  const data = signedData(challenge.nonce, nonce);
  if (kind === 'rsa') {
    const signature = sign('sha256', data, {
      key: privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_MAX_SIGN,
    });
    return encodeResponse({ kind, nonce, signature });
  }
  const p1363 = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const half = p1363.length / 2;
  return encodeResponse({
    kind,
    nonce,
    r: minimal(p1363.subarray(0, half)),
    s: minimal(p1363.subarray(half)),
  });
}

/** Strips leading zero bytes, as big.Int.Bytes() does. */
function minimal(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  return Buffer.from(bytes.subarray(i));
}

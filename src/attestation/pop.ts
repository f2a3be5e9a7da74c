/**
 * Server side of x509pop proof of possession: issue a fresh nonce, then check that the agent
 * signed SHA-256(our nonce ‖ its nonce) with the leaf certificate's key. The response never
 * echoes our nonce; it is bound in through the signed digest, so a response made for another
 * challenge (a replay) fails the signature check. Every signature decision is node:crypto's
 * `verify`, which throws rather than answering false on bad keys.
 */
import { constants, randomBytes, verify, type KeyObject } from 'node:crypto';
import { AttestorError } from '../errors.js';
import { encodeChallenge } from './challenge.js';
import { keyDetails } from './key-details.js';
import { NONCE_BYTES, signedData } from './nonces.js';
import { curveName, describeKey, ecdsaScalarBytes, popKind, type PopKind } from './pop-key.js';
import { decodeResponse } from './response.js';

/** What the server keeps between sending the challenge and reading the response. */
export interface ChallengeState {
  readonly kind: PopKind;
  readonly nonce: Buffer;
}

export interface IssuedChallenge {
  /** The challenge JSON to send to the agent. */
  readonly bytes: Buffer;
  readonly state: ChallengeState;
}

/** Creates a challenge for the leaf's key; RSA and ECDSA only (ERR_PROFILE "key type not allowed" otherwise). */
export function createChallenge(leafPublicKey: KeyObject): IssuedChallenge {
  const kind = popKind(leafPublicKey);
  if (kind === undefined)
    throw new AttestorError(
      'ERR_PROFILE',
      `key type not allowed: the leaf certificate has a ${describeKey(leafPublicKey)} key; x509pop proof of possession needs RSA or ECDSA`,
      { details: { keyType: leafPublicKey.asymmetricKeyType ?? 'unknown' } },
    );
  const state: ChallengeState = Object.freeze({ kind, nonce: randomBytes(NONCE_BYTES) });
  return { bytes: encodeChallenge(state), state };
}

const KIND_NAMES: Readonly<Record<PopKind, string>> = { rsa: 'RSA', ecdsa: 'ECDSA' };

/**
 * Verifies the agent's response to `state`. Malformed JSON, base64 or lengths are ERR_PAYLOAD;
 * a wrong kind or a signature that does not verify (including one made for another challenge)
 * is ERR_POP.
 */
export function verifyChallengeResponse(
  state: ChallengeState,
  responseBytes: Uint8Array,
  leafPublicKey: KeyObject,
): void {
  if (popKind(leafPublicKey) !== state.kind)
    throw new AttestorError('ERR_INTERNAL', 'challenge state does not belong to this leaf key');
  const response = decodeResponse(responseBytes);
  if (response.kind !== state.kind)
    throw new AttestorError(
      'ERR_POP',
      `expected an ${KIND_NAMES[state.kind]} signature response, got ${KIND_NAMES[response.kind]}`,
    );
  const data = signedData(state.nonce, response.nonce);

  let ok: boolean;
  if (response.kind === 'rsa') {
    ok = checkSignature(() =>
      verify(
        'sha256',
        data,
        {
          key: leafPublicKey,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_AUTO,
        },
        response.signature,
      ),
    );
  } else {
    const size = ecdsaScalarBytes(leafPublicKey);
    if (size === undefined)
      throw new AttestorError(
        'ERR_PROFILE',
        `key type not allowed: ECDSA on ${curveName(keyDetails(leafPublicKey).namedCurve)}`,
      );
    const signature = Buffer.concat([leftPad(response.r, size, 'r'), leftPad(response.s, size, 's')]);
    ok = checkSignature(() =>
      verify('sha256', data, { key: leafPublicKey, dsaEncoding: 'ieee-p1363' }, signature),
    );
  }
  if (!ok)
    throw new AttestorError(
      'ERR_POP',
      `${KIND_NAMES[state.kind]} signature over the challenge does not verify with the leaf certificate's key`,
    );
}

function checkSignature(run: () => boolean): boolean {
  try {
    return run();
  } catch (err) {
    throw new AttestorError(
      'ERR_POP',
      `signature over the challenge could not be verified: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** Go sends r and s minimal (big.Int.Bytes()); IEEE P1363 wants them zero-padded to the curve size. */
function leftPad(value: Buffer, size: number, name: string): Buffer {
  if (value.length > size)
    throw new AttestorError(
      'ERR_PAYLOAD',
      `challenge response ecdsa_signature "${name}" is ${value.length} bytes; the curve allows at most ${size}`,
    );
  return Buffer.concat([Buffer.alloc(size - value.length), value]);
}

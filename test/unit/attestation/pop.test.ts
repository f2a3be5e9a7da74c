import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { answerChallenge } from '../../../src/attestation/answer-challenge.js';
import { decodeChallenge, encodeChallenge } from '../../../src/attestation/challenge.js';
import {
  createChallenge,
  verifyChallengeResponse,
  type ChallengeState,
} from '../../../src/attestation/pop.js';
import { decodeResponse, encodeResponse } from '../../../src/attestation/response.js';
import { needs } from '../../support/tools.js';
import { ecdsaDer, expectError, isOneOf, openssl } from './helpers.js';

interface Pair {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

const keys: Record<'p256' | 'p384' | 'p521' | 'rsa2048' | 'rsa3072' | 'ed25519' | 'k256', Pair> = {} as never;
before(() => {
  keys.p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  keys.p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  keys.p521 = generateKeyPairSync('ec', { namedCurve: 'secp521r1' });
  keys.rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
  keys.rsa3072 = generateKeyPairSync('rsa', { modulusLength: 3072 });
  keys.ed25519 = generateKeyPairSync('ed25519');
  keys.k256 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
});

/** Server challenge → agent answer → server verification. */
function roundTrip(pair: Pair): { state: ChallengeState; response: Buffer } {
  const { bytes, state } = createChallenge(pair.publicKey);
  const response = answerChallenge(bytes, pair.privateKey);
  verifyChallengeResponse(state, response, pair.publicKey);
  return { state, response };
}

describe('createChallenge', () => {
  it('picks the challenge kind from the leaf key type, with a fresh 32-byte nonce', () => {
    const rsa = createChallenge(keys.rsa2048.publicKey);
    assert.equal(rsa.state.kind, 'rsa');
    assert.match(
      rsa.bytes.toString(),
      /^\{"rsa_signature":\{"nonce":"[A-Za-z0-9+/]{43}="\},"ecdsa_signature":null\}$/,
    );
    const ec = createChallenge(keys.p256.publicKey);
    assert.equal(ec.state.kind, 'ecdsa');
    assert.match(
      ec.bytes.toString(),
      /^\{"rsa_signature":null,"ecdsa_signature":\{"nonce":"[A-Za-z0-9+/]{43}="\}\}$/,
    );
    assert.equal(ec.state.nonce.length, 32);
    assert.notDeepEqual(createChallenge(keys.p256.publicKey).state.nonce, ec.state.nonce);
    assert.deepEqual(decodeChallenge(ec.bytes).nonce, ec.state.nonce);
  });

  it('refuses an Ed25519 leaf key: key type not allowed', () => {
    expectError(
      () => createChallenge(keys.ed25519.publicKey),
      'ERR_PROFILE',
      /key type not allowed: .*ed25519/,
    );
  });
});

describe('proof of possession round trip', () => {
  for (const name of ['p256', 'p384', 'p521', 'rsa2048', 'rsa3072'] as const)
    it(`succeeds with ${name}`, () => {
      roundTrip(keys[name]);
    });

  it('ECDSA r and s are minimal big-endian, as Go big.Int.Bytes()', () => {
    for (let i = 0; i < 50; i++) {
      const { response } = roundTrip(keys.p256);
      const decoded = decodeResponse(response);
      assert.equal(decoded.kind, 'ecdsa');
      assert.notEqual(decoded.r[0], 0);
      assert.notEqual(decoded.s[0], 0);
      assert.ok(decoded.r.length <= 32 && decoded.s.length <= 32);
    }
  });
});

describe('verifyChallengeResponse', () => {
  it('refuses a response replayed from an earlier challenge', () => {
    const first = createChallenge(keys.p256.publicKey);
    const response = answerChallenge(first.bytes, keys.p256.privateKey);
    verifyChallengeResponse(first.state, response, keys.p256.publicKey);
    const second = createChallenge(keys.p256.publicKey);
    expectError(
      () => {
        verifyChallengeResponse(second.state, response, keys.p256.publicKey);
      },
      'ERR_POP',
      /does not verify/,
    );

    const rsa1 = createChallenge(keys.rsa2048.publicKey);
    const rsaResponse = answerChallenge(rsa1.bytes, keys.rsa2048.privateKey);
    const rsa2 = createChallenge(keys.rsa2048.publicKey);
    expectError(
      () => {
        verifyChallengeResponse(rsa2.state, rsaResponse, keys.rsa2048.publicKey);
      },
      'ERR_POP',
      /RSA signature/,
    );
  });

  it('refuses a signature by another key of the same type', () => {
    const { bytes, state } = createChallenge(keys.p256.publicKey);
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    expectError(() => {
      verifyChallengeResponse(state, answerChallenge(bytes, other.privateKey), keys.p256.publicKey);
    }, 'ERR_POP');
    const rsa = createChallenge(keys.rsa2048.publicKey);
    const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expectError(() => {
      verifyChallengeResponse(
        rsa.state,
        answerChallenge(rsa.bytes, otherRsa.privateKey),
        keys.rsa2048.publicKey,
      );
    }, 'ERR_POP');
  });

  it('refuses a response of the other kind', () => {
    const { state } = createChallenge(keys.p256.publicKey);
    const response = encodeResponse({ kind: 'rsa', nonce: randomBytes(32), signature: randomBytes(256) });
    expectError(
      () => {
        verifyChallengeResponse(state, response, keys.p256.publicKey);
      },
      'ERR_POP',
      /expected an ECDSA signature response, got RSA/,
    );
  });

  it('refuses a signature over the nonces in the wrong order', () => {
    const { state } = createChallenge(keys.p256.publicKey);
    const nonce = randomBytes(32);
    const p1363 = sign('sha256', Buffer.concat([nonce, state.nonce]), {
      key: keys.p256.privateKey,
      dsaEncoding: 'ieee-p1363',
    });
    const response = encodeResponse({
      kind: 'ecdsa',
      nonce,
      r: p1363.subarray(0, 32),
      s: p1363.subarray(32),
    });
    expectError(() => {
      verifyChallengeResponse(state, response, keys.p256.publicKey);
    }, 'ERR_POP');
  });

  it('accepts zero-padded r and s as well as minimal ones', () => {
    // Find a signature whose r has a leading zero byte, so minimal and padded forms differ.
    const { state } = createChallenge(keys.p256.publicKey);
    for (let i = 0; i < 5000; i++) {
      const nonce = randomBytes(32);
      const p1363 = sign('sha256', Buffer.concat([state.nonce, nonce]), {
        key: keys.p256.privateKey,
        dsaEncoding: 'ieee-p1363',
      });
      if (p1363[0] !== 0) continue;
      const r = p1363.subarray(0, 32);
      const s = p1363.subarray(32);
      verifyChallengeResponse(state, encodeResponse({ kind: 'ecdsa', nonce, r, s }), keys.p256.publicKey);
      verifyChallengeResponse(
        state,
        encodeResponse({ kind: 'ecdsa', nonce, r: r.subarray(1), s }),
        keys.p256.publicKey,
      );
      // Longer than the curve size is refused even though the value is the same.
      const longR = Buffer.concat([Buffer.alloc(1), r]);
      expectError(
        () => {
          verifyChallengeResponse(
            state,
            encodeResponse({ kind: 'ecdsa', nonce, r: longR, s }),
            keys.p256.publicKey,
          );
        },
        'ERR_PAYLOAD',
        /"r" is 33 bytes; the curve allows at most 32/,
      );
      return;
    }
    assert.fail('no signature with a leading zero in 5000 tries');
  });

  it('accepts RSA-PSS with a digest-length salt (auto salt length on verify)', () => {
    const { state } = createChallenge(keys.rsa2048.publicKey);
    const nonce = randomBytes(32);
    const signature = sign('sha256', Buffer.concat([state.nonce, nonce]), {
      key: keys.rsa2048.privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    });
    verifyChallengeResponse(state, encodeResponse({ kind: 'rsa', nonce, signature }), keys.rsa2048.publicKey);
  });

  it('refuses an RSA PKCS#1 v1.5 signature', () => {
    const { state } = createChallenge(keys.rsa2048.publicKey);
    const nonce = randomBytes(32);
    const signature = sign('sha256', Buffer.concat([state.nonce, nonce]), keys.rsa2048.privateKey);
    expectError(() => {
      verifyChallengeResponse(
        state,
        encodeResponse({ kind: 'rsa', nonce, signature }),
        keys.rsa2048.publicKey,
      );
    }, 'ERR_POP');
  });

  it('refuses malformed responses with ERR_PAYLOAD', () => {
    const { state } = createChallenge(keys.p256.publicKey);
    expectError(() => {
      verifyChallengeResponse(state, Buffer.from(''), keys.p256.publicKey);
    }, 'ERR_PAYLOAD');
    expectError(() => {
      verifyChallengeResponse(state, Buffer.from('{}'), keys.p256.publicKey);
    }, 'ERR_PAYLOAD');
    expectError(() => {
      verifyChallengeResponse(state, Buffer.from('{"ecdsa_signature":{"nonce":"AA=="'), keys.p256.publicKey);
    }, 'ERR_PAYLOAD');
    const shortNonce = encodeResponse({
      kind: 'ecdsa',
      nonce: Buffer.alloc(31),
      r: Buffer.alloc(32, 1),
      s: Buffer.alloc(32, 1),
    });
    expectError(
      () => {
        verifyChallengeResponse(state, shortNonce, keys.p256.publicKey);
      },
      'ERR_PAYLOAD',
      /"nonce" is 31 bytes/,
    );
  });

  it('refuses a state that belongs to another key type', () => {
    const { state } = createChallenge(keys.p256.publicKey);
    expectError(() => {
      verifyChallengeResponse(state, Buffer.from('{}'), keys.rsa2048.publicKey);
    }, 'ERR_INTERNAL');
  });

  it('never throws anything but ERR_PAYLOAD or ERR_POP on random responses', () => {
    const ec = createChallenge(keys.p256.publicKey);
    const rsa = createChallenge(keys.rsa2048.publicKey);
    const field = fc.oneof(
      fc.uint8Array({ maxLength: 70 }).map((b) => Buffer.from(b).toString('base64')),
      fc.string(),
      fc.constant(null),
    );
    const member = fc.oneof(
      fc.constant(null),
      fc.record({ nonce: field, signature: field, r: field, s: field }, { requiredKeys: [] }),
    );
    const inputs = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc
        .record({ rsa_signature: member, ecdsa_signature: member }, { requiredKeys: [] })
        .map((v) => Buffer.from(JSON.stringify(v))),
      fc
        .record({
          nonce: fc.uint8Array({ minLength: 32, maxLength: 32 }),
          r: fc.uint8Array({ minLength: 1, maxLength: 40 }),
          s: fc.uint8Array({ minLength: 1, maxLength: 40 }),
        })
        .map((v) =>
          encodeResponse({
            kind: 'ecdsa',
            nonce: Buffer.from(v.nonce),
            r: Buffer.from(v.r),
            s: Buffer.from(v.s),
          }),
        ),
    );
    fc.assert(
      fc.property(inputs, (input) => {
        for (const [c, key] of [
          [ec, keys.p256.publicKey],
          [rsa, keys.rsa2048.publicKey],
        ] as const) {
          try {
            verifyChallengeResponse(c.state, input, key);
            assert.fail('a random response verified');
          } catch (err) {
            assert.ok(isOneOf(err, 'ERR_PAYLOAD', 'ERR_POP'), String(err));
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('answerChallenge', () => {
  it('refuses an Ed25519 identity key with ERR_CONFIG', () => {
    const { bytes } = createChallenge(keys.p256.publicKey);
    expectError(
      () => answerChallenge(bytes, keys.ed25519.privateKey),
      'ERR_CONFIG',
      /ed25519; x509pop proof of possession supports only RSA and ECDSA/,
    );
  });

  it('refuses a public key', () => {
    const { bytes } = createChallenge(keys.p256.publicKey);
    expectError(() => answerChallenge(bytes, keys.p256.publicKey), 'ERR_CONFIG', /must be a private key/);
  });

  it('refuses a challenge for the other key kind', () => {
    const rsaChallenge = createChallenge(keys.rsa2048.publicKey).bytes;
    expectError(
      () => answerChallenge(rsaChallenge, keys.p256.privateKey),
      'ERR_POP',
      /sent an RSA challenge but the identity key is ECDSA/,
    );
    const ecChallenge = createChallenge(keys.p256.publicKey).bytes;
    expectError(
      () => answerChallenge(ecChallenge, keys.rsa2048.privateKey),
      'ERR_POP',
      /sent an ECDSA challenge but the identity key is RSA/,
    );
  });

  it('refuses a malformed challenge with ERR_PAYLOAD', () => {
    expectError(() => answerChallenge(Buffer.from('{}'), keys.p256.privateKey), 'ERR_PAYLOAD');
    expectError(
      () =>
        answerChallenge(encodeChallenge({ kind: 'ecdsa', nonce: Buffer.alloc(16) }), keys.p256.privateKey),
      'ERR_PAYLOAD',
      /16 bytes/,
    );
  });

  it('answers with a fresh nonce each time', () => {
    const { bytes } = createChallenge(keys.p256.publicKey);
    const a = decodeResponse(answerChallenge(bytes, keys.p256.privateKey));
    const b = decodeResponse(answerChallenge(bytes, keys.p256.privateKey));
    assert.notDeepEqual(a.nonce, b.nonce);
  });

  it('signs with a curve the server refuses, which the server then rejects', () => {
    // secp256k1 is no x509pop curve for us; the chain check refuses such leaves long before this.
    const { bytes } = createChallenge(keys.k256.publicKey);
    const response = answerChallenge(bytes, keys.k256.privateKey);
    expectError(
      () => {
        verifyChallengeResponse(createChallenge(keys.k256.publicKey).state, response, keys.k256.publicKey);
      },
      'ERR_PROFILE',
      /secp256k1/,
    );
  });
});

describe('cross-check with openssl (what Go x509pop verifies)', { skip: needs('openssl') }, () => {
  const pem = (k: KeyObject): string => k.export({ type: 'spki', format: 'pem' }).toString();

  for (const name of ['p256', 'p384', 'p521'] as const)
    it(`ECDSA ${name}: SHA-256(challenge ‖ response) verifies with openssl dgst -sha256 -verify`, () => {
      const { state, response } = roundTrip(keys[name]);
      const decoded = decodeResponse(response);
      assert.equal(decoded.kind, 'ecdsa');
      const out = openssl(
        {
          'pub.pem': pem(keys[name].publicKey),
          'data.bin': Buffer.concat([state.nonce, decoded.nonce]),
          'sig.der': ecdsaDer(decoded.r, decoded.s),
        },
        (d) => ['dgst', '-sha256', '-verify', `${d}/pub.pem`, '-signature', `${d}/sig.der`, `${d}/data.bin`],
      );
      assert.match(out, /Verified OK/);
    });

  it('RSA: PSS/SHA-256/MGF1-SHA-256 verifies with openssl and an auto salt length', () => {
    const { state, response } = roundTrip(keys.rsa2048);
    const decoded = decodeResponse(response);
    assert.equal(decoded.kind, 'rsa');
    const files = {
      'pub.pem': pem(keys.rsa2048.publicKey),
      'data.bin': Buffer.concat([state.nonce, decoded.nonce]),
      'sig.bin': decoded.signature,
    };
    const verify = (saltlen: string) => (d: string) => [
      'dgst',
      '-sha256',
      '-sigopt',
      'rsa_padding_mode:pss',
      '-sigopt',
      `rsa_pss_saltlen:${saltlen}`,
      '-sigopt',
      'rsa_mgf1_md:sha256',
      '-verify',
      `${d}/pub.pem`,
      '-signature',
      `${d}/sig.bin`,
      `${d}/data.bin`,
    ];
    assert.match(openssl(files, verify('auto')), /Verified OK/);
    // Maximum salt, as Go's rsa.SignPSS(…, nil) uses: 256 - 32 - 2 bytes for RSA-2048.
    assert.match(openssl(files, verify('222')), /Verified OK/);
  });

  it('a tampered nonce fails under openssl too', () => {
    const { state, response } = roundTrip(keys.p256);
    const decoded = decodeResponse(response);
    assert.equal(decoded.kind, 'ecdsa');
    const tampered = Buffer.from(decoded.nonce);
    tampered[0] = tampered[0]! ^ 1;
    assert.throws(() =>
      openssl(
        {
          'pub.pem': pem(keys.p256.publicKey),
          'data.bin': Buffer.concat([state.nonce, tampered]),
          'sig.der': ecdsaDer(decoded.r, decoded.s),
        },
        (d) => ['dgst', '-sha256', '-verify', `${d}/pub.pem`, '-signature', `${d}/sig.der`, `${d}/data.bin`],
      ),
    );
  });
});

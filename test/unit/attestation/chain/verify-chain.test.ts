import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { verifyChain, type ChainOptions } from '../../../../src/attestation/chain/verify-chain.js';
import { createCa, createCert, createNodeClientCert, EKU, KU, type TestCert } from '../../../support/pki.js';
import { expectError, wholeSeconds } from '../helpers.js';
import { loadCertificateReader } from '../../../../src/attestation/chain/certificate.js';

// These call the synchronous readers directly; the server runs them through withCertificateReader.
before(loadCertificateReader);

const HOUR = 3600_000;
const DAY = 24 * HOUR;

let root: TestCert;
let leaf: TestCert;

before(async () => {
  root = await createCa('CN=root-ca');
  leaf = await createNodeClientCert(root, 'node-1');
});

const chain = (
  l: TestCert,
  intermediates: readonly TestCert[],
  bundle: readonly TestCert[],
  options: ChainOptions = {},
): readonly X509Certificate[] =>
  verifyChain(
    l.cert,
    intermediates.map((c) => c.cert),
    bundle.map((c) => c.cert),
    { cluster: 'prod', ...options },
  ).path;

const refused = (
  reason: string,
  message: RegExp,
  l: TestCert,
  intermediates: readonly TestCert[],
  bundle: readonly TestCert[],
  options: ChainOptions = {},
): void => {
  const err = expectError(() => chain(l, intermediates, bundle, options), 'ERR_CHAIN', message, {
    reason,
    cluster: 'prod',
  });
  assert.match(err.message, /^certificate chain does not verify to the CA bundle of cluster prod: /);
};

describe('verifyChain: valid chains', () => {
  it('verifies a leaf issued directly by the bundle CA', () => {
    const path = chain(leaf, [], [root]);
    assert.deepEqual(
      path.map((c) => c.fingerprint256),
      [leaf.cert.fingerprint256, root.cert.fingerprint256],
    );
  });

  it('finds the issuer among several bundle certificates', async () => {
    const other = await createCa('CN=other-ca');
    assert.equal(chain(leaf, [], [other, root]).length, 2);
  });

  it('verifies through an intermediate, and only with it', async () => {
    const int = await createCa('CN=intermediate', { issuer: root });
    const l = await createNodeClientCert(int, 'node-2');
    const path = chain(l, [int], [root]);
    assert.deepEqual(
      path.map((c) => c.subject),
      [l.cert.subject, int.cert.subject, root.cert.subject],
    );
    refused('unknown-authority', /signed by an unknown authority/, l, [], [root]);
  });

  it('accepts a bundle CA sent along as an intermediate, and duplicate intermediates', () => {
    assert.equal(chain(leaf, [root, root], [root]).length, 2);
  });

  it('accepts an issuer without keyUsage (RFC 5280 allows it)', async () => {
    const int = await createCert({ subject: 'CN=int-no-ku', issuer: root, ca: true });
    const l = await createNodeClientCert(int, 'node-3');
    assert.equal(chain(l, [int], [root]).length, 3);
  });

  it('accepts an issuer whose EKU includes clientAuth', async () => {
    const int = await createCa('CN=int-eku-client', {
      issuer: root,
      extKeyUsage: [EKU.clientAuth, EKU.serverAuth],
    });
    assert.equal(chain(await createNodeClientCert(int, 'n'), [int], [root]).length, 3);
  });

  it('accepts RSA, P-384 and Ed25519 keys within the limits', async () => {
    const rsaCa = await createCa('CN=rsa-ca', { keyAlg: 'rsa-2048' });
    assert.equal(
      chain(await createNodeClientCert(rsaCa, 'n', { keyAlg: 'ecdsa-p384' }), [], [rsaCa]).length,
      2,
    );
    const edCa = await createCa('CN=ed-ca', { keyAlg: 'ed25519' });
    assert.equal(chain(await createNodeClientCert(edCa, 'n', { keyAlg: 'rsa-2048' }), [], [edCa]).length, 2);
    // The chain does not refuse an Ed25519 leaf; the node-client profile does (x509pop cannot use it).
    assert.equal(chain(await createNodeClientCert(root, 'n', { keyAlg: 'ed25519' }), [], [root]).length, 2);
  });

  it('ignores an unknown non-critical extension', async () => {
    const ext = new x509.Extension('1.3.6.1.4.1.99999.1', false, new Uint8Array([0x05, 0x00]));
    assert.equal(
      chain(await createNodeClientCert(root, 'n', { extraExtensions: [ext] }), [], [root]).length,
      2,
    );
  });

  it('returns every valid path, shortest first (cross-signed intermediate)', async () => {
    const rootB = await createCa('CN=root-b');
    const intA = await createCa('CN=int-x', { issuer: root });
    const intB = await createCa('CN=int-x', { issuer: rootB, key: intA.key });
    const l = await createNodeClientCert(intA, 'node-x');
    const result = verifyChain(l.cert, [intA.cert, intB.cert], [root.cert, rootB.cert]);
    assert.equal(result.paths.length, 2);
    const anchors = result.paths.map((p) => p[2]!.fingerprint256).sort();
    assert.deepEqual(anchors, [root.cert.fingerprint256, rootB.cert.fingerprint256].sort());
    assert.equal(result.path, result.paths[0]);
  });
});

describe('verifyChain: refusals', () => {
  it('another CA: signed by an unknown authority', async () => {
    const other = await createCa('CN=other-ca');
    refused(
      'unknown-authority',
      /leaf certificate "O=system:nodes, CN=system:node:node-1" is signed by an unknown authority: no path from its issuer "CN=root-ca"/,
      leaf,
      [],
      [other],
    );
  });

  it('a CA with the same name but another key: unknown authority (key identifiers differ)', async () => {
    const impostor = await createCa('CN=root-ca');
    refused(
      'unknown-authority',
      /unknown authority/,
      await createNodeClientCert(impostor, 'node-1'),
      [],
      [root],
    );
  });

  it('a tampered signature', () => {
    const der = Buffer.from(leaf.der);
    der[der.length - 1] = der[der.length - 1]! ^ 0x01;
    const tampered = { ...leaf, cert: new (leaf.cert.constructor as typeof X509Certificate)(der) };
    refused(
      'bad-signature',
      /signature of leaf certificate .* does not verify with the key of CA certificate "CN=root-ca"/,
      tampered,
      [],
      [root],
    );
  });

  it('a SHA-1 signature', async () => {
    const l = await createNodeClientCert(root, 'n', { signingAlgorithm: { name: 'ECDSA', hash: 'SHA-1' } });
    refused(
      'signature-algorithm',
      /is signed with ecdsa-with-SHA1, which is insecure or not supported/,
      l,
      [],
      [root],
    );
  });

  it('an expired leaf, with the dates', async () => {
    const notAfter = wholeSeconds(Date.now() - DAY);
    const l = await createNodeClientCert(root, 'n', { notBefore: new Date(Date.now() - 2 * DAY), notAfter });
    refused(
      'expired',
      new RegExp(
        `leaf certificate .* expired at ${notAfter.toISOString()} \\(now .*, allowed clock skew 30s\\)`,
      ),
      l,
      [],
      [root],
    );
  });

  it('a leaf not yet valid, with the dates', async () => {
    const notBefore = wholeSeconds(Date.now() + HOUR);
    const l = await createNodeClientCert(root, 'n', { notBefore, notAfter: new Date(Date.now() + DAY) });
    refused(
      'not-yet-valid',
      new RegExp(`leaf certificate .* is not yet valid: valid from ${notBefore.toISOString()}`),
      l,
      [],
      [root],
    );
  });

  it('an expired CA', async () => {
    const old = await createCa('CN=old-ca', {
      notBefore: new Date(Date.now() - 3 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    refused(
      'expired',
      /CA certificate "CN=old-ca" expired at/,
      await createNodeClientCert(old, 'n'),
      [],
      [old],
    );
  });

  it('an expired intermediate', async () => {
    const int = await createCa('CN=old-int', {
      issuer: root,
      notBefore: new Date(Date.now() - 3 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    refused(
      'expired',
      /intermediate certificate "CN=old-int" expired at/,
      await createNodeClientCert(int, 'n'),
      [int],
      [root],
    );
  });

  describe('clock skew boundaries (inclusive)', () => {
    let edge: TestCert;
    let edgeRoot: TestCert;
    const notBefore = wholeSeconds(Date.now() - HOUR);
    const notAfter = wholeSeconds(Date.now() + HOUR);
    before(async () => {
      // A root valid well beyond the leaf on both sides, so only the leaf's bounds are tested.
      edgeRoot = await createCa('CN=edge-root', {
        notBefore: new Date(Date.now() - DAY),
        notAfter: new Date(Date.now() + DAY),
      });
      edge = await createNodeClientCert(edgeRoot, 'edge', { notBefore, notAfter });
    });
    const at = (ms: number): Date => new Date(ms);

    it('is valid exactly at notAfter + skew and expired one second later', () => {
      assert.equal(chain(edge, [], [edgeRoot], { now: at(notAfter.getTime() + 30_000) }).length, 2);
      refused('expired', /expired at/, edge, [], [edgeRoot], { now: at(notAfter.getTime() + 31_000) });
    });

    it('is valid exactly at notBefore - skew and not yet valid one second earlier', () => {
      assert.equal(chain(edge, [], [edgeRoot], { now: at(notBefore.getTime() - 30_000) }).length, 2);
      refused('not-yet-valid', /not yet valid/, edge, [], [edgeRoot], {
        now: at(notBefore.getTime() - 31_000),
      });
    });

    it('honours a configured skew, including zero', () => {
      assert.equal(chain(edge, [], [edgeRoot], { now: notAfter, clockSkewSeconds: 0 }).length, 2);
      refused('expired', /allowed clock skew 0s/, edge, [], [edgeRoot], {
        now: at(notAfter.getTime() + 1000),
        clockSkewSeconds: 0,
      });
      assert.equal(
        chain(edge, [], [edgeRoot], { now: at(notAfter.getTime() + 120_000), clockSkewSeconds: 120 }).length,
        2,
      );
    });
  });

  it('an intermediate without basicConstraints', async () => {
    const int = await createCert({ subject: 'CN=int-no-bc', issuer: root, keyUsage: KU.keyCertSign });
    refused(
      'not-ca',
      /intermediate certificate "CN=int-no-bc" is not a CA \(basicConstraints cA is not set\)/,
      await createNodeClientCert(int, 'n'),
      [int],
      [root],
    );
  });

  it('an intermediate with cA=false', async () => {
    const int = await createCert({
      subject: 'CN=int-ca-false',
      issuer: root,
      ca: false,
      keyUsage: KU.keyCertSign,
    });
    refused('not-ca', /is not a CA/, await createNodeClientCert(int, 'n'), [int], [root]);
  });

  it('a bundle certificate without the CA flag', async () => {
    const notCa = await createCert({
      subject: 'CN=not-a-ca',
      ca: false,
      keyUsage: KU.digitalSignature | KU.keyCertSign,
    });
    refused(
      'not-ca',
      /CA certificate "CN=not-a-ca" is not a CA/,
      await createNodeClientCert(notCa, 'n'),
      [],
      [notCa],
    );
  });

  it('an issuer whose keyUsage lacks keyCertSign', async () => {
    const int = await createCa('CN=int-no-sign', {
      issuer: root,
      keyUsage: KU.digitalSignature | KU.cRLSign,
    });
    refused(
      'no-cert-sign',
      /may not sign certificates \(its keyUsage lacks keyCertSign\)/,
      await createNodeClientCert(int, 'n'),
      [int],
      [root],
    );
  });

  it('a violated pathLenConstraint on the root', async () => {
    const pl0 = await createCa('CN=root-pl0', { pathLength: 0 });
    assert.equal(chain(await createNodeClientCert(pl0, 'direct'), [], [pl0]).length, 2);
    const int = await createCa('CN=int-under-pl0', { issuer: pl0 });
    refused(
      'path-length',
      /CA certificate "CN=root-pl0" allows 0 intermediate\(s\) below it \(pathLenConstraint\) but the path has 1/,
      await createNodeClientCert(int, 'n'),
      [int],
      [pl0],
    );
  });

  it('a violated pathLenConstraint on an intermediate', async () => {
    const int1 = await createCa('CN=int-1', { issuer: root, pathLength: 0 });
    const int2 = await createCa('CN=int-2', { issuer: int1 });
    refused(
      'path-length',
      /intermediate certificate "CN=int-1" allows 0/,
      await createNodeClientCert(int2, 'n'),
      [int2, int1],
      [root],
    );
  });

  it('an issuer whose EKU excludes clientAuth', async () => {
    const int = await createCa('CN=int-server-only', { issuer: root, extKeyUsage: [EKU.serverAuth] });
    refused(
      'eku',
      /restricts extended key usage to 1.3.6.1.5.5.7.3.1, which excludes clientAuth/,
      await createNodeClientCert(int, 'n'),
      [int],
      [root],
    );
  });

  it('a leaf that is a CA', async () => {
    const caLeaf = await createCa('CN=system:node:n', { issuer: root });
    refused('leaf-is-ca', /leaf certificate "CN=system:node:n" is a CA certificate/, caLeaf, [], [root]);
  });

  it('an unknown critical extension, on the leaf or on a CA', async () => {
    const ext = new x509.Extension('1.3.6.1.4.1.99999.1', true, new Uint8Array([0x05, 0x00]));
    refused(
      'critical-extension',
      /leaf certificate .* has an unsupported critical extension 1.3.6.1.4.1.99999.1/,
      await createNodeClientCert(root, 'n', { extraExtensions: [ext] }),
      [],
      [root],
    );
    const int = await createCa('CN=int-crit', { issuer: root, extraExtensions: [ext] });
    refused(
      'critical-extension',
      /intermediate certificate "CN=int-crit" has an unsupported critical extension/,
      await createNodeClientCert(int, 'n'),
      [int],
      [root],
    );
  });

  it('an RSA-1024 leaf', async () => {
    refused(
      'key',
      /leaf certificate .* has a 1024-bit RSA key; allowed are 2048 to 8192 bits/,
      await createNodeClientCert(root, 'n', { keyAlg: 'rsa-1024' }),
      [],
      [root],
    );
  });

  it('an RSA-1024 CA', async () => {
    const weak = await createCa('CN=weak-ca', { keyAlg: 'rsa-1024' });
    refused(
      'key',
      /CA certificate "CN=weak-ca" has a 1024-bit RSA key/,
      await createNodeClientCert(weak, 'n'),
      [],
      [weak],
    );
  });

  it('more intermediates than allowed', async () => {
    const int1 = await createCa('CN=i1', { issuer: root });
    const int2 = await createCa('CN=i2', { issuer: int1 });
    const l = await createNodeClientCert(int2, 'n');
    assert.equal(chain(l, [int2, int1], [root]).length, 4);
    refused('too-complex', /2 intermediates were given; the limit is 1/, l, [int2, int1], [root], {
      maxIntermediates: 1,
    });
  });

  it('terminates on intermediates that issue each other', async () => {
    const a = await createCa('CN=loop-b');
    const b = await createCa('CN=loop-a', { issuer: a });
    const a2 = await createCa('CN=loop-b', { issuer: b, key: a.key });
    refused('unknown-authority', /unknown authority/, await createNodeClientCert(b, 'n'), [b, a2], [root]);
  });

  it('names no cluster when none is given', () => {
    expectError(
      () => verifyChain(leaf.cert, [], []),
      'ERR_CHAIN',
      /^certificate chain does not verify to the CA bundle: /,
    );
  });
});

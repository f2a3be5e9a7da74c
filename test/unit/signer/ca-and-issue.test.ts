import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { chooseSigningCa, parseCaMaterial, secretCaSource } from '../../../src/signer/ca.js';
import { issueCertificate, issueTimes } from '../../../src/signer/issue.js';
import { checkRequestKey } from '../../../src/signer/request-key.js';
import { checkPodCertProfile } from '../../../src/attestation/pod-cert-profile.js';
import { withCertificateReader } from '../../../src/attestation/chain/certificate.js';
import { createCa } from '../../support/pki.js';
import { SIGNER, stubRequest } from './helpers.js';
import { TEST_POD_IDENTITY as ID } from '../../support/pod-cert.js';

const HOUR = 3_600_000;
const src = { certs: { label: '-ca-cert-file c' }, keys: { label: '-ca-key-file k' } };

describe('signer CA material', () => {
  it('pairs keys with certificates and refuses keys without a certificate', async () => {
    const [a, b] = await Promise.all([createCa('CN=a'), createCa('CN=b')]);
    const m = parseCaMaterial(a.pem + b.pem, a.key.privateKeyPem, src);
    assert.deepEqual(
      m.certificates.map((c) => c.key !== undefined),
      [true, false],
    );
    assert.throws(
      () => parseCaMaterial(a.pem, b.key.privateKeyPem, src),
      /-ca-key-file k: 1 private key\(s\) match no certificate in -ca-cert-file c/,
    );
    assert.throws(
      () => parseCaMaterial(a.pem, 'nothing', src),
      /-ca-key-file k: no PEM PRIVATE KEY block found/,
    );
  });

  it('refuses a CA key it cannot sign with (Ed25519), naming the input, instead of failing every issuance', async () => {
    const ed = await createCa('CN=ed', { keyAlg: 'ed25519' });
    assert.throws(
      () => parseCaMaterial(ed.pem, ed.key.privateKeyPem, src),
      /^AttestorError: -ca-key-file k: private key #1 is ed25519; the signer signs with ECDSA or RSA CA keys$/,
    );
  });

  it('a new CA signs only after the publish delay from its notBefore; then the newest signs', async () => {
    const now = Date.now();
    const old = await createCa('CN=old', {
      notBefore: new Date(now - 48 * HOUR),
      notAfter: new Date(now + 30 * 24 * HOUR),
    });
    const fresh = await createCa('CN=new', {
      notBefore: new Date(now - 10 * 60_000),
      notAfter: new Date(now + 60 * 24 * HOUR),
    });
    const m = parseCaMaterial(old.pem + fresh.pem, old.key.privateKeyPem + fresh.key.privateKeyPem, src);
    const pick = (at: number): string => {
      const c = chooseSigningCa(m, new Date(at), { publishDelayMs: HOUR, minRemainingMs: HOUR });
      return c.ok ? c.ca.cert.subject : c.problem;
    };
    assert.equal(pick(now), 'CN=old', 'the new CA is published but not yet signing');
    assert.equal(pick(now + HOUR), 'CN=new', 'past the delay the newest signs');
    // Only the fresh one, not yet published long enough: nothing signs, the reason says why.
    const only = parseCaMaterial(fresh.pem, fresh.key.privateKeyPem, src);
    const none = chooseSigningCa(only, new Date(now), { publishDelayMs: HOUR, minRemainingMs: HOUR });
    assert.match(none.ok ? '' : none.problem, /has been published for 1h/);
  });

  it('reads a Secret (ca.crt, ca.key), keeps the last good material when a re-read fails', async () => {
    const a = await createCa('CN=a');
    let t = 0;
    let answer: unknown = {
      data: {
        'ca.crt': Buffer.from(a.pem).toString('base64'),
        'ca.key': Buffer.from(a.key.privateKeyPem).toString('base64'),
      },
    };
    const errors: string[] = [];
    const s = secretCaSource(
      () => Promise.resolve(answer),
      { namespace: 'spire', name: 'ca' },
      {
        reloadMs: 1000,
        now: () => t,
        onReloadError: (e) => errors.push(e.message),
      },
    );
    assert.equal((await s.current()).certificates.length, 1);
    answer = { data: {} };
    t = 2000;
    assert.equal((await s.current()).certificates.length, 1);
    assert.deepEqual(errors, ['-ca-secret: Secret spire/ca has no data key ca.crt']);
  });
});

describe('issued certificates', () => {
  it('lifetime is min(own max, request max), capped by the CA; refresh at half, 10 min from the ends', () => {
    const now = new Date('2026-12-06T12:00:00.400Z');
    const far = new Date('2030-01-01T00:00:00Z');
    const t = issueTimes(now, { maxLifetimeMs: 24 * HOUR, requestMaxSeconds: 3600, caNotAfter: far });
    assert.deepEqual(t, {
      notBefore: new Date('2026-12-06T12:00:00Z'),
      notAfter: new Date('2026-12-06T13:00:00Z'),
      beginRefreshAt: new Date('2026-12-06T12:30:00Z'),
    });
    const own = issueTimes(now, { maxLifetimeMs: 2 * HOUR, requestMaxSeconds: 86_400, caNotAfter: far });
    assert.equal(own?.notAfter.toISOString(), '2026-12-06T14:00:00.000Z');
    const capped = issueTimes(now, {
      maxLifetimeMs: 24 * HOUR,
      requestMaxSeconds: 86_400,
      caNotAfter: new Date('2026-12-06T12:30:00Z'),
    });
    assert.equal(capped, undefined, 'under an hour left on the CA: no certificate');
  });

  it('-refresh-after moves beginRefreshAt, still 10 min from either end', () => {
    const now = new Date('2026-12-06T12:00:00.400Z');
    const far = new Date('2030-01-01T00:00:00Z');
    const at = (refreshAfterMs: number, requestMaxSeconds = 86_400): string | undefined =>
      issueTimes(now, {
        maxLifetimeMs: 24 * HOUR,
        requestMaxSeconds,
        caNotAfter: far,
        refreshAfterMs,
      })?.beginRefreshAt.toISOString();
    assert.equal(at(10 * 60_000), '2026-12-06T12:10:00.000Z');
    assert.equal(at(2 * HOUR), '2026-12-06T14:00:00.000Z');
    // Never closer than 10 minutes to notBefore or notAfter (the API refuses it).
    assert.equal(at(60_000), '2026-12-06T12:10:00.000Z');
    assert.equal(at(2 * HOUR, 3600), '2026-12-06T12:50:00.000Z');
  });

  for (const keyAlg of ['ecdsa-p384', 'rsa-2048'] as const)
    it(`is signed by a ${keyAlg} CA`, async () => {
      const ca = await createCa('CN=signer-ca', { keyAlg });
      const m = parseCaMaterial(ca.pem, ca.key.privateKeyPem, src);
      const choice = chooseSigningCa(m, new Date(), { publishDelayMs: 0, minRemainingMs: HOUR });
      const key = checkRequestKey((await stubRequest()).b64);
      assert.ok(choice.ok && key.ok);
      const times = issueTimes(new Date(), {
        maxLifetimeMs: HOUR,
        requestMaxSeconds: 3600,
        caNotAfter: choice.ca.notAfter,
      });
      assert.ok(times !== undefined);
      const leaf = new X509Certificate(issueCertificate(choice.ca, key.spki, ID, times));
      assert.ok(leaf.verify(ca.cert.publicKey));
      assert.equal((await withCertificateReader(() => checkPodCertProfile(leaf, SIGNER))).nodeName, 'node-a');
    });

  it('carries the pod identity and passes the k8s_pod_cert profile; another signer name does not', async () => {
    const ca = await createCa('CN=signer-ca');
    const m = parseCaMaterial(ca.pem, ca.key.privateKeyPem, src);
    const choice = chooseSigningCa(m, new Date(), { publishDelayMs: 0, minRemainingMs: HOUR });
    assert.ok(choice.ok);
    const { b64 } = await stubRequest();
    const key = checkRequestKey(b64);
    assert.ok(key.ok);
    const times = issueTimes(new Date(), {
      maxLifetimeMs: HOUR,
      requestMaxSeconds: 3600,
      caNotAfter: choice.ca.notAfter,
    });
    assert.ok(times !== undefined);
    const pem = issueCertificate(choice.ca, key.spki, ID, times);
    const leaf = new X509Certificate(pem);
    assert.ok(leaf.verify(ca.cert.publicKey), 'signed by the CA');
    assert.equal(leaf.checkIssued(ca.cert), true);
    assert.equal(new Date(leaf.validTo).getTime(), times.notAfter.getTime());
    assert.deepEqual(await withCertificateReader(() => checkPodCertProfile(leaf, SIGNER)), {
      nodeName: 'node-a',
      pod: ID,
    });
    assert.throws(
      () => checkPodCertProfile(leaf, 'example.com/other'),
      /issued for signer "node-attestor.spiffe.io\/spire-agent"/,
    );
  });
});

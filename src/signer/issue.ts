/**
 * Builds the certificate for an admitted PodCertificateRequest: exactly the profile the
 * k8s_pod_cert server plugin checks (src/pod-cert/profile.ts), signed by the chosen CA.
 *
 *   subject  CN=node-attestor pod certificate (fixed: the facts are in the extension, where no
 *            64-character CN limit truncates a 253-character pod name)
 *   basicConstraints CA:false (critical), keyUsage digitalSignature (critical),
 *   extKeyUsage clientAuth, authorityKeyIdentifier, the pod identity extension (non-critical)
 *
 * Timing (the API server checks all of it): notBefore = now in whole seconds (it must be within
 * 5 minutes of the API server's clock); notAfter = notBefore + min(-max-expiration,
 * spec.maxExpirationSeconds), and never past the CA's own notAfter; beginRefreshAt at half the
 * lifetime, kept at least 10 minutes from both ends (the API's rule) so the kubelet has the
 * second half, less its up to 5 minutes of jitter, to renew.
 */
import { randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { encodePodIdentity, POD_CERT_CN, POD_IDENTITY_OID, type PodIdentity } from '../pod-cert/identity.js';
import { loadX509 } from '../x509/load-peculiar.js';
import type { CaCertificate } from './ca.js';

/** The API server refuses a shorter certificate (PodCertificateRequest validation). */
export const MIN_LIFETIME_MS = 3_600_000;
/** beginRefreshAt must be at least this far from notBefore and notAfter. */
const REFRESH_MARGIN_MS = 600_000;
/** The fraction of the lifetime after which the kubelet should renew. */
export const REFRESH_FRACTION = 0.5;

export interface IssueTimes {
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly beginRefreshAt: Date;
}

/** The validity and refresh time of a certificate issued at `now`; undefined when under an hour. */
export function issueTimes(
  now: Date,
  o: { readonly maxLifetimeMs: number; readonly requestMaxSeconds: number; readonly caNotAfter: Date },
): IssueTimes | undefined {
  const nb = Math.floor(now.getTime() / 1000) * 1000;
  const lifetime = Math.min(o.maxLifetimeMs, o.requestMaxSeconds * 1000);
  const na = Math.min(nb + lifetime, Math.floor(o.caNotAfter.getTime() / 1000) * 1000);
  if (na - nb < MIN_LIFETIME_MS) return undefined;
  const refresh = Math.min(
    Math.max(nb + Math.floor(((na - nb) * REFRESH_FRACTION) / 1000) * 1000, nb + REFRESH_MARGIN_MS),
    na - REFRESH_MARGIN_MS,
  );
  return { notBefore: new Date(nb), notAfter: new Date(na), beginRefreshAt: new Date(refresh) };
}

interface SigningKey {
  readonly key: webcrypto.CryptoKey;
  readonly algorithm: webcrypto.EcdsaParams | webcrypto.Algorithm;
}
const imported = new WeakMap<KeyObject, Promise<SigningKey>>();

function signingKey(key: KeyObject): Promise<SigningKey> {
  let p = imported.get(key);
  if (p === undefined) {
    const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
    if (key.asymmetricKeyType === 'ec') {
      const curve = key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'P-384' : 'P-256';
      const hash = curve === 'P-384' ? 'SHA-384' : 'SHA-256';
      p = webcrypto.subtle
        .importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: curve }, false, ['sign'])
        .then((k) => ({ key: k, algorithm: { name: 'ECDSA', hash } }));
    } else {
      const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
      p = webcrypto.subtle
        .importKey('pkcs8', pkcs8, algorithm, false, ['sign'])
        .then((k) => ({ key: k, algorithm }));
    }
    imported.set(key, p);
  }
  return p;
}

/** The PEM of the issued certificate. */
export async function issueCertificate(
  ca: CaCertificate & { readonly key: KeyObject },
  subjectSpki: Buffer,
  identity: PodIdentity,
  times: IssueTimes,
): Promise<string> {
  const x509 = await loadX509();
  const caCert = new x509.X509Certificate(ca.cert.raw);
  const { key, algorithm } = await signingKey(ca.key);
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    issuer: caCert.subjectName,
    subject: `CN=${POD_CERT_CN}`,
    notBefore: times.notBefore,
    notAfter: times.notAfter,
    publicKey: subjectSpki,
    signingKey: key,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
      new x509.Extension(POD_IDENTITY_OID, false, encodePodIdentity(identity)),
    ],
  });
  return cert.toString('pem');
}

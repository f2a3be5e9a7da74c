/**
 * Test PKI: CAs, intermediates and leaves with every knob the tests need to produce both good
 * certificates and each kind of bad one (expired, wrong EKU, no CA flag, path length, SANs, …).
 * Used by unit fixtures, fake API servers and the control-plane harness alike.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KeyObject, X509Certificate, randomBytes, webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export type TestKeyAlg = 'ecdsa-p256' | 'ecdsa-p384' | 'rsa-2048' | 'rsa-1024' | 'ed25519';

export interface TestKey {
  readonly alg: TestKeyAlg;
  readonly keys: webcrypto.CryptoKeyPair;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** PKCS#8 PEM. */
  readonly privateKeyPem: string;
}

export interface TestCert {
  readonly pem: string;
  readonly der: Buffer;
  readonly cert: X509Certificate;
  readonly key: TestKey;
  readonly subject: string;
}

const signingAlgorithms: Record<
  TestKeyAlg,
  webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams | webcrypto.Algorithm
> = {
  'ecdsa-p256': { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
  'ecdsa-p384': { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' },
  'rsa-2048': {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  },
  'rsa-1024': {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 1024,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  },
  ed25519: { name: 'Ed25519' },
};

export async function generateTestKey(alg: TestKeyAlg = 'ecdsa-p256'): Promise<TestKey> {
  const keys = (await webcrypto.subtle.generateKey(signingAlgorithms[alg], true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const privateKey = KeyObject.from(keys.privateKey);
  return {
    alg,
    keys,
    privateKey,
    publicKey: KeyObject.from(keys.publicKey),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

export const KU = x509.KeyUsageFlags;
export const EKU = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
};

export interface CertOptions {
  /** e.g. 'CN=test-ca' or [{O:['system:nodes']},{CN:['system:node:n1']}] (order kept). */
  readonly subject: string | x509.JsonName;
  /** Self-signed when absent. */
  readonly issuer?: TestCert;
  readonly key?: TestKey;
  readonly keyAlg?: TestKeyAlg;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** basicConstraints: omitted when undefined. */
  readonly ca?: boolean;
  readonly pathLength?: number;
  /** keyUsage flags; omitted when undefined. */
  /** x509.KeyUsageFlags OR-ed together. */
  readonly keyUsage?: number;
  readonly extKeyUsage?: readonly string[];
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly uris?: readonly string[];
  readonly serialHex?: string;
  /**
   * Certify this public key (e.g. the one in a CSR) instead of `key`'s. `key` is then only the
   * self-signing key and is not the certified key's private half.
   */
  readonly publicKey?: webcrypto.CryptoKey;
  /** Added after the standard extensions, e.g. an unknown critical one. */
  readonly extraExtensions?: readonly x509.Extension[];
  /** Overrides the issuer key's default signature algorithm, e.g. to sign with SHA-1. */
  readonly signingAlgorithm?: webcrypto.EcdsaParams | webcrypto.RsaHashedImportParams;
}

const HOUR = 3600_000;

export async function createCert(o: CertOptions): Promise<TestCert> {
  const key = o.key ?? (await generateTestKey(o.keyAlg ?? 'ecdsa-p256'));
  const signerKey = o.issuer?.key ?? key;
  const extensions: x509.Extension[] = [];
  if (o.ca !== undefined) extensions.push(new x509.BasicConstraintsExtension(o.ca, o.pathLength, true));
  if (o.keyUsage !== undefined)
    // KeyUsageFlags is a bit-flag enum; OR-ed flags are plain numbers by design.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment
    extensions.push(new x509.KeyUsagesExtension(o.keyUsage, true));
  if (o.extKeyUsage !== undefined)
    extensions.push(new x509.ExtendedKeyUsageExtension(o.extKeyUsage as string[], false));
  const sans: x509.JsonGeneralName[] = [
    ...(o.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(o.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(o.uris ?? []).map((value) => ({ type: 'url' as const, value })),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
  const publicKey = o.publicKey ?? key.keys.publicKey;
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(publicKey));
  if (o.issuer !== undefined)
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(o.issuer.key.keys.publicKey));
  extensions.push(...(o.extraExtensions ?? []));

  const name = typeof o.subject === 'string' ? o.subject : new x509.Name(o.subject).toString();
  const now = Date.now();
  const generated = await x509.X509CertificateGenerator.create({
    // A positive serial: high bit cleared.
    serialNumber: o.serialHex ?? `0${randomBytes(16).toString('hex').slice(1)}`,
    subject: typeof o.subject === 'string' ? o.subject : new x509.Name(o.subject),
    issuer:
      o.issuer === undefined
        ? typeof o.subject === 'string'
          ? o.subject
          : new x509.Name(o.subject)
        : o.issuer.subject,
    notBefore: o.notBefore ?? new Date(now - HOUR),
    notAfter: o.notAfter ?? new Date(now + 24 * HOUR),
    signingAlgorithm: o.signingAlgorithm ?? signingAlgorithms[signerKey.alg],
    publicKey,
    signingKey: signerKey.keys.privateKey,
    extensions,
  });
  const pem = generated.toString('pem');
  const cert = new X509Certificate(pem);
  return {
    pem: `${pem}\n`,
    der: Buffer.from(generated.rawData),
    cert,
    key,
    subject: generated.subject || name,
  };
}

/** A CA with CA:TRUE, keyCertSign|cRLSign|digitalSignature. */
export function createCa(
  subject = 'CN=test-ca',
  o: Omit<CertOptions, 'subject' | 'ca' | 'keyUsage'> & { keyUsage?: number } = {},
): Promise<TestCert> {
  return createCert({
    subject,
    ca: true,
    keyUsage: o.keyUsage ?? KU.keyCertSign | KU.cRLSign | KU.digitalSignature,
    ...o,
  });
}

/** A Kubernetes node client certificate as the kube-apiserver-client-kubelet signer issues it. */
export function createNodeClientCert(
  issuer: TestCert,
  nodeName: string,
  o: Partial<CertOptions> = {},
): Promise<TestCert> {
  return createCert({
    subject: [{ O: ['system:nodes'] }, { CN: [`system:node:${nodeName}`] }],
    issuer,
    ca: false,
    keyUsage: KU.digitalSignature,
    extKeyUsage: [EKU.clientAuth],
    ...o,
  });
}

/** The public key of a PKCS#10 request, for createCert's `publicKey`. */
export async function csrPublicKey(csrPem: string): Promise<webcrypto.CryptoKey> {
  // x509's d.ts names the DOM CryptoKey, which this project's lib settings do not include.
  const key: unknown = await new x509.Pkcs10CertificateRequest(csrPem).publicKey.export();
  return key as webcrypto.CryptoKey;
}

/**
 * What the kube-apiserver-client-kubelet signer does with a request: a node client certificate
 * for the request's public key, subject copied from it (unless overridden).
 */
export async function issueForCsr(
  issuer: TestCert,
  csrPem: string,
  o: Partial<CertOptions> = {},
): Promise<TestCert> {
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  return createCert({
    subject: csr.subjectName.toJSON(),
    issuer,
    ca: false,
    keyUsage: KU.digitalSignature,
    extKeyUsage: [EKU.clientAuth],
    publicKey: await csrPublicKey(csrPem),
    ...o,
  });
}

/**
 * The signer's CA material and which CA signs now. The material is a bundle of one or more CA
 * certificates and the private keys of those that may sign (PEM, several blocks each), from two
 * files or one Secret (keys ca.crt and ca.key), re-read while the signer runs.
 *
 * Rotation with overlap: the bundle the SPIRE servers trust (k8s_pod_cert's ca_bundle_path) must
 * hold a new CA before any certificate it signed reaches an agent. So a CA signs only once
 * `publish delay` has passed since its notBefore: publish the new CA (in this bundle and the
 * servers') when you create it, and the signer switches to it on its own once the servers have
 * had that long to pick it up. Of the CAs allowed to sign, the newest (latest notBefore) signs;
 * the older ones stay in the bundle until the certificates they signed have expired.
 */
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { AttestorError } from '../errors.js';
import { canSignWith } from './certificate-builder.js';
import { parseCertificates, readMaterialFile, type MaterialSource } from '../kube/pem.js';
import { readPemBlocks } from '../x509/pem.js';
import { formatDuration } from '../util/duration.js';

export interface CaCertificate {
  readonly cert: X509Certificate;
  /** Its private key, when the material has it (else it is only published). */
  readonly key: KeyObject | undefined;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface CaMaterial {
  readonly certificates: readonly CaCertificate[];
  /** The bundle as PEM (each CA certificate once), what the SPIRE servers should trust. */
  readonly bundlePem: string;
}

const spkiOf = (k: KeyObject): string =>
  (k.type === 'private' ? createPublicKey(k) : k).export({ type: 'spki', format: 'der' }).toString('base64');

/** Pairs the keys with the certificates; ERR_INPUT when something does not fit. */
export function parseCaMaterial(
  certData: Buffer | string,
  keyData: Buffer | string,
  sources: { readonly certs: MaterialSource; readonly keys: MaterialSource },
): CaMaterial {
  const bundle = parseCertificates(certData, sources.certs);
  const blocks = readPemBlocks(keyData);
  const keyBlocks = blocks.ok ? blocks.value.filter((b) => b.label.endsWith('PRIVATE KEY')) : [];
  if (keyBlocks.length === 0)
    throw new AttestorError('ERR_INPUT', `${sources.keys.label}: no PEM PRIVATE KEY block found`, {
      details: { input: sources.keys.label },
    });
  const keys = new Map<string, KeyObject>();
  keyBlocks.forEach((b, i) => {
    if (b.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(b.text))
      throw new AttestorError(
        'ERR_INPUT',
        `${sources.keys.label}: private key #${String(i + 1)} is encrypted; give unencrypted keys`,
        { details: { input: sources.keys.label } },
      );
    let k: KeyObject;
    try {
      k = createPrivateKey(b.text);
    } catch (err) {
      throw new AttestorError(
        'ERR_INPUT',
        `${sources.keys.label}: PEM block #${String(i + 1)} does not parse as a private key`,
        { cause: err, details: { input: sources.keys.label } },
      );
    }
    // Refused here, by name, rather than by OpenSSL at every issuance.
    if (!canSignWith(k))
      throw new AttestorError(
        'ERR_INPUT',
        `${sources.keys.label}: private key #${String(i + 1)} is ${String(k.asymmetricKeyType)}; the signer signs with ECDSA or RSA CA keys`,
        { details: { input: sources.keys.label } },
      );
    keys.set(spkiOf(k), k);
  });
  const certificates = bundle.certificates.map((cert, i): CaCertificate => {
    if (!cert.ca)
      throw new AttestorError(
        'ERR_INPUT',
        `${sources.certs.label}: certificate #${String(i + 1)} (${cert.subject.replaceAll('\n', ', ')}) is not a CA certificate`,
        { details: { input: sources.certs.label } },
      );
    return {
      cert,
      key: keys.get(spkiOf(cert.publicKey)),
      notBefore: new Date(cert.validFrom),
      notAfter: new Date(cert.validTo),
    };
  });
  const paired = certificates.filter((c) => c.key !== undefined).length;
  if (paired !== keys.size)
    throw new AttestorError(
      'ERR_INPUT',
      `${sources.keys.label}: ${String(keys.size - paired)} private key(s) match no certificate in ${sources.certs.label}`,
      { details: { input: sources.keys.label } },
    );
  return { certificates, bundlePem: bundle.pem };
}

export type CaChoice =
  | { readonly ok: true; readonly ca: CaCertificate & { readonly key: KeyObject } }
  | { readonly ok: false; readonly problem: string };

/**
 * The CA that signs at `now`: has its key, published for at least `publishDelayMs` (counted from
 * its notBefore), and valid for at least `minRemainingMs` more; the newest of those.
 */
export function chooseSigningCa(
  m: CaMaterial,
  now: Date,
  o: { readonly publishDelayMs: number; readonly minRemainingMs: number },
): CaChoice {
  const t = now.getTime();
  const usable = m.certificates.filter(
    (c): c is CaCertificate & { key: KeyObject } =>
      c.key !== undefined &&
      t >= c.notBefore.getTime() + o.publishDelayMs &&
      t + o.minRemainingMs <= c.notAfter.getTime(),
  );
  const newest = usable.sort((a, b) => b.notBefore.getTime() - a.notBefore.getTime())[0];
  if (newest !== undefined) return { ok: true, ca: newest };
  const withKey = m.certificates.filter((c) => c.key !== undefined).length;
  return {
    ok: false,
    problem:
      withKey === 0
        ? 'no CA certificate has its private key'
        : `none of the ${String(withKey)} CA certificate(s) with a key has been published for ${formatDuration(o.publishDelayMs)} (-ca-publish-delay, from its notBefore) and stays valid for ${formatDuration(o.minRemainingMs)}`,
  };
}

/** Where the material comes from, re-read at most every `reloadMs`. */
export interface CaSource {
  /** The current material; a failed re-read keeps the last good one (and is reported once). */
  current(signal?: AbortSignal): Promise<CaMaterial>;
  readonly description: string;
}

export interface CaSourceOptions {
  readonly reloadMs: number;
  readonly now?: () => number;
  readonly onReloadError?: (err: AttestorError) => void;
}

function cached(
  load: (signal?: AbortSignal) => Promise<CaMaterial>,
  description: string,
  o: CaSourceOptions,
): CaSource {
  const now = o.now ?? Date.now;
  let last: { material: CaMaterial; at: number } | undefined;
  return {
    description,
    async current(signal) {
      if (last !== undefined && now() - last.at < o.reloadMs) return last.material;
      try {
        const material = await load(signal);
        last = { material, at: now() };
        return material;
      } catch (err) {
        if (last === undefined) throw err;
        o.onReloadError?.(err instanceof AttestorError ? err : new AttestorError('ERR_INPUT', String(err)));
        last = { material: last.material, at: now() };
        return last.material;
      }
    },
  };
}

export function fileCaSource(certFile: string, keyFile: string, o: CaSourceOptions): CaSource {
  const certs = { label: `-ca-cert-file ${certFile}`, file: certFile };
  const keys = { label: `-ca-key-file ${keyFile}`, file: keyFile };
  return cached(
    () =>
      Promise.resolve(
        parseCaMaterial(readMaterialFile(certFile, certs), readMaterialFile(keyFile, keys), { certs, keys }),
      ),
    `files ${certFile} and ${keyFile}`,
    o,
  );
}

/** The Secret's data keys. */
export const CA_SECRET_KEYS = { certs: 'ca.crt', keys: 'ca.key' } as const;

export function secretCaSource(
  get: (signal?: AbortSignal) => Promise<unknown>,
  ref: { readonly namespace: string; readonly name: string },
  o: CaSourceOptions,
): CaSource {
  const where = `Secret ${ref.namespace}/${ref.name}`;
  return cached(
    async (signal) => {
      const s = (await get(signal)) as { data?: Record<string, unknown> } | undefined;
      const field = (k: string): Buffer => {
        const v = s?.data?.[k];
        if (typeof v !== 'string' || v === '')
          throw new AttestorError('ERR_INPUT', `-ca-secret: ${where} has no data key ${k}`, {
            details: { input: '-ca-secret' },
          });
        return Buffer.from(v, 'base64');
      };
      return parseCaMaterial(field(CA_SECRET_KEYS.certs), field(CA_SECRET_KEYS.keys), {
        certs: { label: `-ca-secret ${where} ${CA_SECRET_KEYS.certs}` },
        keys: { label: `-ca-secret ${where} ${CA_SECRET_KEYS.keys}` },
      });
    },
    where,
    o,
  );
}

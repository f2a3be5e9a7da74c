/**
 * PEM loading for Kubernetes TLS material. Everything is parsed at load time with node:crypto so
 * a wrong file fails with a message naming it, before any connection is attempted, instead of as
 * an opaque OpenSSL error in the middle of a handshake.
 */
import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AttestorError } from '../errors.js';
import { fileErrorReason } from '../util/file-error.js';
import {
  parsePemBundle,
  readPemBlocks,
  sizeProblemText,
  type BlocksProblem,
  type BundleProblem,
} from '../x509/pem.js';

/** Where a piece of material came from, for messages: e.g. `-ca-cert /etc/ca.crt`. */
export interface MaterialSource {
  readonly label: string;
  /** The file, when the material is a file (for details); absent for inline data. */
  readonly file?: string;
}

export interface CertificateBundle {
  /** Normalised PEM: each block on its own, newline-terminated. */
  readonly pem: string;
  readonly certificates: readonly X509Certificate[];
}

function inputError(source: MaterialSource, problem: string, cause?: unknown): AttestorError {
  return new AttestorError('ERR_INPUT', `${source.label}: ${problem}`, {
    ...(cause === undefined ? {} : { cause }),
    details: source.file === undefined ? { input: source.label } : { input: source.label, file: source.file },
  });
}

/** Reads a file for `source`; ERR_INPUT naming it (and only the OS reason) when that fails. */
export function readMaterialFile(path: string, source: MaterialSource): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw inputError(source, `cannot read the file (${fileErrorReason(err)})`, err);
  }
}

/** A PEM problem as ERR_INPUT naming `source`: labels and counts only, never content. */
function pemError(source: MaterialSource, p: BundleProblem | BlocksProblem): AttestorError {
  switch (p.kind) {
    case 'no-certificate':
      return inputError(source, 'no PEM CERTIFICATE block found');
    case 'unparsable':
      return inputError(source, `certificate #${p.certificate} does not parse as X.509`, p.cause);
    case 'mismatched-end':
      return inputError(
        source,
        `PEM block #${p.block} begins ${JSON.stringify(p.begin)} but ends ${JSON.stringify(p.end)}`,
      );
    case 'too-large':
    case 'certificate-too-large':
      return inputError(source, sizeProblemText(p));
  }
}

/**
 * Parses every CERTIFICATE block; at least one is required and each must parse. Other blocks
 * and text around them are skipped, as Go's AppendCertsFromPEM and Kubernetes' own CA file
 * readers do. The one rule for a cluster CA bundle, wherever it comes from: -ca-cert, a
 * kubeconfig's certificate-authority(-data), the service account's ca.crt, the server plugin's
 * ca_bundle_path.
 */
export function parseCertificates(data: Buffer | string, source: MaterialSource): CertificateBundle {
  const r = parsePemBundle(data);
  if (!r.ok) throw pemError(source, r.problem);
  return {
    pem: r.value.map((c) => `${c.block.text}\n`).join(''),
    certificates: r.value.map((c) => c.cert),
  };
}

/**
 * Parses a private key. The error never quotes the content: this is a secret, so only what kind
 * of problem it is (encrypted, not a key) reaches the message.
 */
export function parsePrivateKey(data: Buffer | string, source: MaterialSource): KeyObject {
  const blocks = readPemBlocks(data);
  if (!blocks.ok) throw pemError(source, blocks.problem);
  // The first key block wins: openssl writes EC PARAMETERS before an EC key.
  const keyBlock = blocks.value.find((b) => b.label.endsWith('PRIVATE KEY'));
  if (keyBlock === undefined) throw inputError(source, 'no PEM PRIVATE KEY block found');
  if (keyBlock.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(keyBlock.text))
    throw inputError(source, 'the private key is encrypted; give an unencrypted key');
  try {
    return createPrivateKey(keyBlock.text);
  } catch (err) {
    throw inputError(source, `the ${keyBlock.label} block does not parse as a private key`, err);
  }
}

/** A client certificate chain and its private key, checked to belong together. */
export interface ClientIdentity {
  readonly chain: CertificateBundle;
  readonly leaf: X509Certificate;
  readonly key: KeyObject;
  /** The leaf's subject on one line, e.g. `CN=spire-agent, O=spire`. */
  readonly subject: string;
}

export function loadClientIdentity(
  cert: { data: Buffer | string; source: MaterialSource },
  key: { data: Buffer | string; source: MaterialSource },
): ClientIdentity {
  const chain = parseCertificates(cert.data, cert.source);
  const leaf = chain.certificates[0];
  if (leaf === undefined) throw inputError(cert.source, 'no certificate');
  const keyObject = parsePrivateKey(key.data, key.source);
  if (!leaf.checkPrivateKey(keyObject))
    throw new AttestorError(
      'ERR_INPUT',
      `client certificate ${cert.source.label} and client key ${key.source.label} do not match (the key is not the certificate's)`,
      { details: { input: cert.source.label, keyInput: key.source.label } },
    );
  return { chain, leaf, key: keyObject, subject: oneLineSubject(leaf.subject) };
}

/** node:crypto prints subjects one attribute per line; messages want them on one. */
export function oneLineSubject(subject: string): string {
  return subject
    .split('\n')
    .filter((s) => s !== '')
    .join(', ');
}

/** Decodes a kubeconfig `*-data` field (base64); ERR_INPUT when it is not base64. */
export function decodeBase64Field(value: string, source: MaterialSource): Buffer {
  const compact = value.replace(/\s+/g, '');
  if (compact === '' || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1)
    throw inputError(source, 'is not valid base64');
  return Buffer.from(compact, 'base64');
}

/** A CA bundle file, read and parsed by the one rule above. */
export function readCaBundleFile(path: string, source: MaterialSource): CertificateBundle {
  return parseCertificates(readMaterialFile(path, source), source);
}

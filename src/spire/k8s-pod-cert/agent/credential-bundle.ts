/**
 * Reads what the kubelet writes for a `podCertificate` projected volume: either one credential
 * bundle file (credentialBundlePath: the PEM private key, then the certificate chain) or a key
 * file and a chain file (keyPath + certificateChainPath). Read afresh at every attestation, so
 * a certificate the kubelet refreshed is used at the next re-attestation without a restart. The
 * key must belong to the leaf, so a half-written refresh is reported rather than attested with.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AttestorError } from '../../../errors.js';
import { fileErrorReason } from '../../../util/file-error.js';
import { readPemBlocks } from '../../../x509/pem.js';

export type CredentialPaths =
  | { readonly kind: 'bundle'; readonly path: string }
  | { readonly kind: 'split'; readonly keyPath: string; readonly chainPath: string };

export interface Credential {
  readonly privateKey: KeyObject;
  /** The CERTIFICATE blocks, leaf first, as PEM. */
  readonly chainPem: string;
  readonly leaf: X509Certificate;
}

function read(path: string, key: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new AttestorError('ERR_INPUT', `${key} ${path}: cannot read the file (${fileErrorReason(err)})`, {
      cause: err,
      details: { input: key, file: path },
    });
  }
}

export function readCredential(paths: CredentialPaths): Credential {
  const [keyText, keyKey, chainText, chainKey] =
    paths.kind === 'bundle'
      ? (() => {
          const t = read(paths.path, 'credential_bundle_path');
          return [t, `credential_bundle_path ${paths.path}`, t, `credential_bundle_path ${paths.path}`];
        })()
      : [
          read(paths.keyPath, 'key_path'),
          `key_path ${paths.keyPath}`,
          read(paths.chainPath, 'certificate_chain_path'),
          `certificate_chain_path ${paths.chainPath}`,
        ];
  const bad = (what: string, problem: string): AttestorError =>
    new AttestorError('ERR_INPUT', `${what}: ${problem}`, { details: { input: what } });
  const keyBlocks = readPemBlocks(keyText);
  const keyBlock = keyBlocks.ok ? keyBlocks.value.find((b) => b.label.endsWith('PRIVATE KEY')) : undefined;
  if (keyBlock === undefined)
    throw bad(keyKey, 'no PEM PRIVATE KEY block found (has the kubelet written it yet?)');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyBlock.text);
  } catch (err) {
    throw new AttestorError(
      'ERR_INPUT',
      `${keyKey}: the ${keyBlock.label} block does not parse as a private key`,
      {
        cause: err,
        details: { input: keyKey },
      },
    );
  }
  const chainBlocks = readPemBlocks(chainText);
  const certs = chainBlocks.ok ? chainBlocks.value.filter((b) => b.label === 'CERTIFICATE') : [];
  const [first] = certs;
  if (first === undefined)
    throw bad(chainKey, 'no PEM CERTIFICATE block found (has the kubelet written it yet?)');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(first.text);
  } catch (err) {
    throw new AttestorError('ERR_INPUT', `${chainKey}: the first certificate does not parse as X.509`, {
      cause: err,
      details: { input: chainKey },
    });
  }
  const spki = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });
  if (!spki(createPublicKey(privateKey)).equals(spki(leaf.publicKey)))
    throw new AttestorError(
      'ERR_CERT_MISMATCH',
      `${keyKey}: the private key does not belong to the first certificate of ${chainKey} (a refresh half written? the next attestation reads both again)`,
      { details: { input: keyKey } },
    );
  return { privateKey, chainPem: certs.map((b) => `${b.text}\n`).join(''), leaf };
}

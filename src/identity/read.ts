/**
 * Reading the identity document: absent, a usable pair, or a pair that is present but broken
 * (callers log why they request a new one).
 */
import { createPrivateKey } from 'node:crypto';
import type { KeyObject, X509Certificate } from 'node:crypto';
import { readFile, readlink } from 'node:fs/promises';
import { isAttestorError } from '../errors.js';
import { readCertificateFields } from '../x509/certificate-reader.js';
import type { Rdn } from '../x509/name.js';
import { keyMatchesCertificate, keyTypeOf } from '../csr/keys.js';
import type { KeyType } from '../csr/keys.js';
import { nodeNameFromSubject } from '../csr/profile.js';
import { pemTooLarge, sizeProblemText } from '../x509/pem.js';
import { parseCertificateChain } from './chain.js';
import { openExistingIdentityDir } from './dir.js';
import type { IdentityDir } from './dir-handle.js';
import { currentGeneration, lstatIfExists, readNoFollow } from './fs-ops.js';
import { errnoCode, io } from './io-error.js';
import {
  CERT_FILE,
  CERT_LINK_TARGET,
  CURRENT_LINK,
  KEY_FILE,
  KEY_LINK_TARGET,
  identityPaths,
} from './layout.js';
import type { IdentityPaths } from './layout.js';

export interface StoredIdentity extends IdentityPaths {
  readonly status: 'ok';
  readonly keyPem: string;
  readonly chainPem: string;
  readonly chain: readonly X509Certificate[];
  readonly leaf: X509Certificate;
  readonly privateKey: KeyObject;
  /** Undefined for a key type this project does not generate. */
  readonly keyType: KeyType | undefined;
  readonly subject: readonly Rdn[];
  /** The node the leaf names, or undefined when the subject is not exactly a node client subject. */
  readonly nodeName: string | undefined;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Upper-case hex, as node:crypto gives it. */
  readonly serialNumber: string;
}

export interface BrokenIdentity extends IdentityPaths {
  readonly status: 'broken';
  readonly reason: string;
}

/** Absent (undefined), usable, or broken. */
export type ReadIdentityResult = StoredIdentity | BrokenIdentity | undefined;

/** Reading between a concurrent writer's rename and its clean-up can miss a generation; retry. */
const ATTEMPTS = 5;

/**
 * Reads `name` in `dir`. Files inside a generation are ours and read without following links;
 * `followLinks` is for id-doc.key/crt of an older plain layout, which may be links someone with
 * write access to this (checked) directory placed by hand, read as a plain reader would.
 */
async function readIfPresent(
  dir: IdentityDir,
  name: string,
  followLinks: boolean,
): Promise<string | undefined> {
  return io('read identity document', dir.shown(name), async () => {
    try {
      return followLinks
        ? await readFile(dir.at(name), 'utf8')
        : (await readNoFollow(dir, name)).toString('utf8');
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    }
  });
}

async function isOurLink(dir: IdentityDir, name: string, target: string): Promise<boolean> {
  const st = await io('inspect', dir.shown(name), () => lstatIfExists(dir, name));
  return (
    st?.isSymbolicLink() === true &&
    (await io('read symlink', dir.shown(name), () => readlink(dir.at(name)))) === target
  );
}

/**
 * Reads `<idDir>/id-doc.key` and `id-doc.crt`. With the link layout both are read from the one
 * generation `.id-doc-current` names at that moment, so a concurrent write cannot mix them.
 * Given a path, the directory is checked first (as openIdentityDir does; absent: undefined).
 * Throws ERR_IO only for file-system trouble other than absence (e.g. permission denied), and
 * ERR_UNSAFE_DIR for a directory another user could have changed.
 */
export async function readIdentity(target: IdentityDir | string): Promise<ReadIdentityResult> {
  if (typeof target !== 'string') return readFrom(target);
  const dir = await openExistingIdentityDir(target);
  if (dir === undefined) return undefined;
  try {
    return await readFrom(dir);
  } finally {
    await dir.close();
  }
}

async function readFrom(dir: IdentityDir): Promise<ReadIdentityResult> {
  const paths = identityPaths(dir.path);
  for (let attempt = 1; ; attempt++) {
    let source = { key: KEY_FILE, cert: CERT_FILE };
    const linked =
      (await isOurLink(dir, KEY_FILE, KEY_LINK_TARGET)) &&
      (await isOurLink(dir, CERT_FILE, CERT_LINK_TARGET));
    if (linked) {
      const generation = await io('resolve', dir.shown(CURRENT_LINK), () => currentGeneration(dir));
      if (generation === undefined) return undefined;
      source = { key: `${generation}/${KEY_FILE}`, cert: `${generation}/${CERT_FILE}` };
    }
    const keyPem = await readIfPresent(dir, source.key, !linked);
    const chainPem = await readIfPresent(dir, source.cert, !linked);
    if (linked && (keyPem === undefined || chainPem === undefined) && attempt < ATTEMPTS) continue;
    if (keyPem === undefined && chainPem === undefined) return undefined;
    if (keyPem === undefined) return broken(paths, `${paths.keyPath} is missing`);
    if (chainPem === undefined) return broken(paths, `${paths.certPath} is missing`);
    return parseIdentity(paths, keyPem, chainPem);
  }
}

function broken(paths: IdentityPaths, reason: string): BrokenIdentity {
  return { ...paths, status: 'broken', reason };
}

/** Checks a key/chain pair read from `paths`; never throws. */
export function parseIdentity(
  paths: IdentityPaths,
  keyPem: string,
  chainPem: string,
): StoredIdentity | BrokenIdentity {
  // OpenSSL reads the key itself; the size limit of every PEM input still comes first.
  const keyTooLarge = pemTooLarge(keyPem);
  if (keyTooLarge !== undefined) return broken(paths, `${paths.keyPath} ${sizeProblemText(keyTooLarge)}`);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch {
    return broken(paths, `${paths.keyPath} does not hold an unencrypted PEM private key`);
  }
  let chain: [X509Certificate, ...X509Certificate[]];
  try {
    chain = parseCertificateChain(chainPem);
  } catch (err) {
    return broken(paths, `${paths.certPath}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const [leaf] = chain;
  if (!keyMatchesCertificate(privateKey, leaf))
    return broken(paths, `${paths.keyPath} does not match the certificate in ${paths.certPath}`);
  let fields;
  try {
    fields = readCertificateFields(leaf.raw);
  } catch (err) {
    if (!isAttestorError(err)) throw err;
    return broken(paths, `${paths.certPath}: ${err.message}`);
  }
  return {
    ...paths,
    status: 'ok',
    keyPem,
    chainPem,
    chain,
    leaf,
    privateKey,
    keyType: keyTypeOf(privateKey),
    subject: fields.subject,
    nodeName: nodeNameFromSubject(fields.subject),
    notBefore: fields.notBefore,
    notAfter: fields.notAfter,
    serialNumber: leaf.serialNumber,
  };
}

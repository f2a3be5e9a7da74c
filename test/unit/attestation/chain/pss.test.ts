/**
 * RSASSA-PSS in a chain, with certificates openssl makes: the signature parameters must be
 * SHA-256/384/512 with MGF1 of the same hash and a hash-length salt (Go's rule); absent ones mean
 * SHA-1. Keys of type id-RSASSA-PSS are refused whatever their parameters.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import 'reflect-metadata';
import { loadCertificateReader } from '../../../../src/attestation/chain/certificate.js';
import { pssParametersProblem } from '../../../../src/attestation/chain/pss-params.js';
import { verifyChain } from '../../../../src/attestation/chain/verify-chain.js';
import { isAttestorError } from '../../../../src/errors.js';

before(loadCertificateReader);

let dir: string;
const openssl = (args: string[]): string => execFileSync('openssl', args, { cwd: dir, encoding: 'utf8' });
const cert = (file: string): X509Certificate => new X509Certificate(readFileSync(join(dir, file)));

const CA_EXT = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'pss-test-'));
  writeFileSync(
    join(dir, 'leaf.ext'),
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
  );
  // An ordinary RSA CA (rsaEncryption key): PSS is chosen per signature, with -sigopt.
  // prettier-ignore
  openssl([
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt',
    '-subj', '/CN=pss-ca', '-days', '2', '-sha256', ...CA_EXT,
  ]);
  // prettier-ignore
  openssl([
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/O=system:nodes/CN=system:node:node-1',
  ]);
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A node client leaf signed by the RSA CA with RSASSA-PSS and `opts` (openssl -sigopt values). */
function pssLeaf(name: string, digest: string, sigopts: string[]): X509Certificate {
  // prettier-ignore
  openssl([
    'x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '1', `-${digest}`, '-extfile', 'leaf.ext', '-out', name,
    ...['rsa_padding_mode:pss', ...sigopts].flatMap((o) => ['-sigopt', o]),
  ]);
  return cert(name);
}

function problemOf(leaf: X509Certificate, anchors: X509Certificate[]): string | undefined {
  try {
    verifyChain(leaf, [], anchors, { cluster: 'prod' });
    return undefined;
  } catch (err) {
    if (!isAttestorError(err, 'ERR_CHAIN')) throw err;
    return `${String(err.details.reason)}: ${err.message}`;
  }
}

describe('RSASSA-PSS signatures in a chain', () => {
  it('accepts SHA-256 with MGF1-SHA-256 and a 32-byte salt, and SHA-384 / SHA-512 likewise', () => {
    const ca = cert('ca.crt');
    for (const [digest, salt] of [
      ['sha256', 'digest'],
      ['sha384', 'digest'],
      ['sha512', 'digest'],
    ] as const) {
      const leaf = pssLeaf(`${digest}.crt`, digest, [`rsa_pss_saltlen:${salt}`, `rsa_mgf1_md:${digest}`]);
      assert.match(openssl(['x509', '-in', `${digest}.crt`, '-noout', '-text']), /rsassaPss/);
      assert.equal(problemOf(leaf, [ca]), undefined, digest);
    }
  });

  it('refuses SHA-1 defaults (parameters left out): what absent parameters mean', () => {
    const leaf = pssLeaf('sha1.crt', 'sha1', ['rsa_pss_saltlen:20']);
    // openssl leaves every SHA-1 default out: an empty parameter SEQUENCE.
    assert.match(openssl(['x509', '-in', 'sha1.crt', '-noout', '-text']), /Hash Algorithm: sha1 \(default\)/);
    assert.equal(
      problemOf(leaf, [cert('ca.crt')]),
      'signature-algorithm: certificate chain does not verify to the CA bundle of cluster prod: ' +
        'leaf certificate "O=system:nodes, CN=system:node:node-1" is signed with RSASSA-PSS with SHA-1 ' +
        '(no hash algorithm given: the default); allowed is RSASSA-PSS with SHA-256, SHA-384 or SHA-512, ' +
        'MGF1 with the same hash and a salt of the hash length',
    );
  });

  it('refuses an MGF1 hash other than the message hash', () => {
    const leaf = pssLeaf('mgf1.crt', 'sha256', ['rsa_pss_saltlen:digest', 'rsa_mgf1_md:sha1']);
    assert.match(
      problemOf(leaf, [cert('ca.crt')]) ?? '',
      /^signature-algorithm: .*is signed with RSASSA-PSS with SHA-256 but MGF1 with SHA-1 \(the default mask generation\); allowed/,
    );
    const other = pssLeaf('mgf384.crt', 'sha256', ['rsa_pss_saltlen:digest', 'rsa_mgf1_md:sha384']);
    assert.match(
      problemOf(other, [cert('ca.crt')]) ?? '',
      /is signed with RSASSA-PSS with SHA-256 but MGF1 with SHA-384; allowed/,
    );
  });

  it("refuses a salt other than the hash length (openssl 3.0's default is the maximum), as Go does", () => {
    const leaf = pssLeaf('maxsalt.crt', 'sha256', ['rsa_pss_saltlen:max']);
    assert.match(
      problemOf(leaf, [cert('ca.crt')]) ?? '',
      /is signed with RSASSA-PSS with SHA-256 and a 222-byte salt \(not 32\); allowed/,
    );
  });
});

describe('RSASSA-PSS keys (subjectPublicKeyInfo id-RSASSA-PSS)', () => {
  it('refuses a PSS-only CA key with SHA-1 defaults and one restricted to SHA-256 alike', () => {
    for (const [name, keyopts] of [
      ['pss-any', []],
      [
        'pss-sha256',
        ['rsa_pss_keygen_md:sha256', 'rsa_pss_keygen_mgf1_md:sha256', 'rsa_pss_keygen_saltlen:32'],
      ],
    ] as const) {
      // prettier-ignore
      openssl([
        'req', '-x509', '-newkey', 'rsa-pss', '-pkeyopt', 'rsa_keygen_bits:2048',
        ...keyopts.flatMap((o) => ['-pkeyopt', o]), '-nodes', '-keyout', `${name}.key`,
        '-out', `${name}.crt`, '-subj', `/CN=${name}`, '-days', '2', '-sha256', ...CA_EXT,
        '-sigopt', 'rsa_pss_saltlen:digest',
      ]);
      const ca = cert(`${name}.crt`);
      assert.equal(ca.publicKey.asymmetricKeyType, 'rsa-pss', name);
      // prettier-ignore
      openssl([
        'x509', '-req', '-in', 'leaf.csr', '-CA', `${name}.crt`, '-CAkey', `${name}.key`,
        '-CAcreateserial', '-days', '1', '-sha256', '-extfile', 'leaf.ext', '-out', `${name}-leaf.crt`,
        '-sigopt', 'rsa_pss_saltlen:digest',
      ]);
      assert.match(
        problemOf(cert(`${name}-leaf.crt`), [ca]) ?? '',
        /^key: .*"CN=pss-[a-z0-9]+" has an RSASSA-PSS key \(subjectPublicKeyInfo id-RSASSA-PSS\); allowed are RSA/,
        name,
      );
    }
  });
});

describe('pssParametersProblem', () => {
  const hex = (h: string): Buffer => Buffer.from(h.replaceAll(' ', ''), 'hex');
  const SHA256 = '300d 0609 608648016503040201 0500';
  const MGF1_SHA256 = '301a 0609 2a864886f70d010108 300d 0609 608648016503040201 0500';

  it('reads the fields strictly', () => {
    assert.equal(pssParametersProblem(hex(`3034 a00f ${SHA256} a11c ${MGF1_SHA256} a203 020120`)), undefined);
    // An explicit default trailer field (1) is allowed; any other is not.
    assert.equal(
      pssParametersProblem(hex(`3039 a00f ${SHA256} a11c ${MGF1_SHA256} a203 020120 a303 020101`)),
      undefined,
    );
    assert.match(
      pssParametersProblem(hex(`3039 a00f ${SHA256} a11c ${MGF1_SHA256} a203 020120 a303 020102`)) ?? '',
      /trailer field other than 1/,
    );
    assert.match(pssParametersProblem(undefined) ?? '', /^RSASSA-PSS without parameters, which means SHA-1/);
    assert.match(pssParametersProblem(hex('3000')) ?? '', /with SHA-1 \(no hash algorithm given/);
    assert.match(pssParametersProblem(hex('0500')) ?? '', /malformed parameters/);
    // The salt left out is 20 bytes: not SHA-256's 32.
    assert.match(
      pssParametersProblem(hex(`302f a00f ${SHA256} a11c ${MGF1_SHA256}`)) ?? '',
      /a 20-byte salt \(not 32\)/,
    );
    // Fields out of order, and bytes after the parameters, are malformed.
    assert.match(
      pssParametersProblem(hex(`3034 a11c ${MGF1_SHA256} a00f ${SHA256} a203 020120`)) ?? '',
      /malformed parameters \(RSASSA-PSS-params: unexpected or repeated field\)/,
    );
    assert.match(
      pssParametersProblem(hex(`3034 a00f ${SHA256} a11c ${MGF1_SHA256} a203 020120 00`)) ?? '',
      /malformed/,
    );
  });
});

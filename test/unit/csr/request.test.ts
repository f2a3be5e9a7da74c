import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { verify } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KEY_TYPES, generateKey } from '../../../src/csr/keys.js';
import type { KeyType } from '../../../src/csr/keys.js';
import { buildNodeCsr } from '../../../src/csr/request.js';
import { isAttestorError } from '../../../src/errors.js';
import { TAG, childrenOf, decodeOid, expectTag, parseDer, readTlv } from '../../../src/x509/der.js';
import { needs } from '../../support/tools.js';

/** The encoded certificationRequestInfo (header included): what the signature covers. */
function encodeInfo(der: Buffer): Buffer {
  const outer = readTlv(der, 0, der.length, 'req');
  const info = readTlv(der, outer.start, outer.end, 'info');
  return der.subarray(info.offset, info.end);
}

const OPENSSL_SIGALG: Record<KeyType, string> = {
  'ecdsa-p256': 'ecdsa-with-SHA256',
  'ecdsa-p384': 'ecdsa-with-SHA384',
  'rsa-2048': 'sha256WithRSAEncryption',
  'rsa-3072': 'sha256WithRSAEncryption',
  'rsa-4096': 'sha256WithRSAEncryption',
  ed25519: 'ED25519',
};

function openssl(args: string[], input: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('openssl', args, { input, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('buildNodeCsr', () => {
  for (const keyType of KEY_TYPES) {
    it(`${keyType}: exact subject, no attributes or extensions, our key, a valid signature`, async () => {
      const key = await generateKey(keyType);
      const pem = await buildNodeCsr({ nodeName: 'node-1.example', keyType, privateKey: key.privateKey });
      assert.match(
        pem,
        /^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+\n-----END CERTIFICATE REQUEST-----\n$/,
      );

      const csr = new x509.Pkcs10CertificateRequest(pem);
      // Structured and ordered: O first (as Go encodes pkix.Name), then CN.
      assert.deepEqual(csr.subjectName.toJSON(), [
        { O: ['system:nodes'] },
        { CN: ['system:node:node-1.example'] },
      ]);
      assert.equal(csr.attributes.length, 0);
      assert.equal(csr.extensions.length, 0);
      assert.equal(await csr.verify(), true);
      // The request carries our public key.
      const spki = Buffer.from(csr.publicKey.rawData);
      assert.ok(spki.equals(key.publicKey.export({ type: 'spki', format: 'der' })));
    });

    it(
      `${keyType}: openssl req -verify accepts it and reads the same subject`,
      { skip: needs('openssl') },
      async () => {
        const key = await generateKey(keyType);
        const pem = await buildNodeCsr({ nodeName: 'node-1.example', keyType, privateKey: key.privateKey });
        const r = openssl(['req', '-verify', '-noout', '-text'], pem);
        assert.equal(r.status, 0, r.stderr);
        assert.match(`${r.stdout}${r.stderr}`, /verify OK/);
        assert.match(r.stdout, /Subject: O ?= ?system:nodes, CN ?= ?system:node:node-1\.example\n/);
        assert.match(r.stdout, new RegExp(`Signature Algorithm: ${OPENSSL_SIGALG[keyType]}\\n`));
        // OpenSSL 3.0 prints an empty "Requested Extensions:" heading even with no attributes.
        assert.match(r.stdout, /Attributes:\n\s+\(none\)\n/);
        assert.doesNotMatch(r.stdout, /X509v3|Alternative Name/);
      },
    );
  }

  it('encodes exactly what Go would send: PrintableString O and CN, empty attributes, DER lengths', async () => {
    const key = await generateKey('ecdsa-p256');
    const nodeName = `n-${'a'.repeat(200)}`; // long enough for multi-byte lengths in the subject
    const pem = await buildNodeCsr({ nodeName, keyType: 'ecdsa-p256', privateKey: key.privateKey });
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const [info, alg, sig] = childrenOf(expectTag(parseDer(der), TAG.sequence, 'req'));
    const [version, subject, spki, attributes, ...rest] = childrenOf(expectTag(info, TAG.sequence, 'info'));
    assert.deepEqual(version, { tag: TAG.integer, content: Buffer.from([0]) });
    const rdns = childrenOf(expectTag(subject, TAG.sequence, 'subject')).map((rdn) =>
      childrenOf(rdn).map((atv) => childrenOf(atv).map((n) => n.tag)),
    );
    assert.deepEqual(rdns, [[[TAG.oid, TAG.printableString]], [[TAG.oid, TAG.printableString]]]);
    assert.ok(spki?.content.equals(key.publicKey.export({ type: 'spki', format: 'der' }).subarray(2)));
    assert.deepEqual(attributes, { tag: 0xa0, content: Buffer.alloc(0) });
    assert.equal(rest.length, 0);
    assert.equal(
      decodeOid(expectTag(childrenOf(expectTag(alg, TAG.sequence, 'alg'))[0], TAG.oid, 'id')),
      '1.2.840.10045.4.3.2',
    );
    // The BIT STRING holds the DER (r, s) signature with no unused bits, verifiable over the info.
    const sigBytes = expectTag(sig, TAG.bitString, 'sig').content;
    assert.equal(sigBytes[0], 0);
    assert.equal(verify('sha256', encodeInfo(der), key.publicKey, sigBytes.subarray(1)), true);
  });

  it('rejects an invalid node name with ERR_USAGE', async () => {
    const key = await generateKey('ecdsa-p256');
    for (const nodeName of ['', 'Upper', 'a_b', '-a', 'a'.repeat(254)]) {
      await assert.rejects(
        buildNodeCsr({ nodeName, keyType: 'ecdsa-p256', privateKey: key.privateKey }),
        (err: unknown) => isAttestorError(err, 'ERR_USAGE'),
      );
    }
  });
});

describe('lazy loading', () => {
  it('neither importing the identity flow nor building a CSR loads @peculiar/x509', () => {
    const script = `
      import { createRequire } from 'node:module';
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('@peculiar'));
      const obtain = await import('./src/identity/obtain.ts');
      await import('./src/identity/read.ts');
      const before = loaded();
      const { generateKey } = await import('./src/csr/keys.ts');
      const { buildNodeCsr } = await import('./src/csr/request.ts');
      const key = await generateKey('ecdsa-p256');
      await buildNodeCsr({ nodeName: 'n1', keyType: 'ecdsa-p256', privateKey: key.privateKey });
      console.log(JSON.stringify({ before, after: loaded(), obtain: typeof obtain.obtainIdentity }));
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { before: false, after: false, obtain: 'function' });
  });
});

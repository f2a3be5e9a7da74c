import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KEY_TYPES, generateKey } from '../../../src/csr/keys.js';
import type { KeyType } from '../../../src/csr/keys.js';
import { buildNodeCsr } from '../../../src/csr/request.js';
import { isAttestorError } from '../../../src/errors.js';

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
    it(`${keyType}: openssl verifies it; exact subject, no attributes or extensions`, async () => {
      const key = await generateKey(keyType);
      const pem = await buildNodeCsr({ nodeName: 'node-1.example', keyType, keyPair: key.cryptoKeyPair });
      assert.match(
        pem,
        /^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+\n-----END CERTIFICATE REQUEST-----\n$/,
      );

      const r = openssl(['req', '-verify', '-noout', '-text'], pem);
      assert.equal(r.status, 0, r.stderr);
      assert.match(`${r.stdout}${r.stderr}`, /verify OK/);
      assert.match(r.stdout, /Subject: O ?= ?system:nodes, CN ?= ?system:node:node-1\.example\n/);
      assert.match(r.stdout, new RegExp(`Signature Algorithm: ${OPENSSL_SIGALG[keyType]}\\n`));
      // OpenSSL 3.0 prints an empty "Requested Extensions:" heading even with no attributes.
      assert.match(r.stdout, /Attributes:\n\s+\(none\)\n/);
      assert.doesNotMatch(r.stdout, /X509v3|Alternative Name/);

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
  }

  it('rejects an invalid node name with ERR_USAGE', async () => {
    const key = await generateKey('ecdsa-p256');
    for (const nodeName of ['', 'Upper', 'a_b', '-a', 'a'.repeat(254)]) {
      await assert.rejects(
        buildNodeCsr({ nodeName, keyType: 'ecdsa-p256', keyPair: key.cryptoKeyPair }),
        (err: unknown) => isAttestorError(err, 'ERR_USAGE'),
      );
    }
  });
});

describe('lazy loading', () => {
  it('importing the identity flow does not load @peculiar/x509; building a CSR does', () => {
    const script = `
      import { createRequire } from 'node:module';
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('@peculiar'));
      const obtain = await import('./src/identity/obtain.ts');
      await import('./src/identity/read.ts');
      const before = loaded();
      const { generateKey } = await import('./src/csr/keys.ts');
      const { buildNodeCsr } = await import('./src/csr/request.ts');
      const key = await generateKey('ecdsa-p256');
      await buildNodeCsr({ nodeName: 'n1', keyType: 'ecdsa-p256', keyPair: key.cryptoKeyPair });
      console.log(JSON.stringify({ before, after: loaded(), obtain: typeof obtain.obtainIdentity }));
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { before: false, after: true, obtain: 'function' });
  });
});

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { buildPaths, issuedBy } from '../../../../src/attestation/chain/build-paths.js';
import {
  readCertificate,
  type CertificateFacts,
  loadCertificateReader,
} from '../../../../src/attestation/chain/certificate.js';
import { createCa, createNodeClientCert, type TestCert } from '../../../support/pki.js';

// These call the synchronous readers directly; the server runs them through withCertificateReader.
before(loadCertificateReader);

const facts = (c: TestCert): CertificateFacts => readCertificate(c.cert, c.subject);

let root: TestCert;
let int: TestCert;
let leaf: TestCert;
before(async () => {
  root = await createCa('CN=root');
  int = await createCa('CN=int', { issuer: root });
  leaf = await createNodeClientCert(int, 'n');
});

describe('buildPaths', () => {
  it('matches by name and key identifier, without looking at signatures', () => {
    assert.equal(issuedBy(facts(leaf), facts(int)), true);
    assert.equal(issuedBy(facts(leaf), facts(root)), false);
    const { paths, truncated } = buildPaths(facts(leaf), [facts(int)], [facts(root)], {
      maxIntermediates: 4,
      maxPaths: 16,
      maxExtensions: 256,
    });
    assert.equal(truncated, false);
    assert.deepEqual(
      paths.map((p) => p.map((c) => c.subject)),
      [['O=system:nodes, CN=system:node:n', 'CN=int', 'CN=root']],
    );
  });

  it('ends a path at a bundle certificate sent as an intermediate', () => {
    const { paths } = buildPaths(facts(leaf), [facts(int)], [facts(root), facts(int)], {
      maxIntermediates: 4,
      maxPaths: 16,
      maxExtensions: 256,
    });
    assert.deepEqual(
      paths.map((p) => p.length),
      [2],
    );
  });

  it('lists shorter paths first', async () => {
    // A self-signed twin of the intermediate (same name and key) in the bundle gives a 2-long path.
    const selfSigned = await createCa('CN=int', { key: int.key });
    const { paths } = buildPaths(facts(leaf), [facts(int)], [facts(root), facts(selfSigned)], {
      maxIntermediates: 4,
      maxPaths: 16,
      maxExtensions: 256,
    });
    assert.deepEqual(
      paths.map((p) => p.length),
      [2, 3],
    );
  });

  it('stops at the work limits', async () => {
    // Twins of the root (same name and key, so they all match by name and key identifier).
    const twins = await Promise.all(Array.from({ length: 20 }, () => createCa('CN=root', { key: root.key })));
    const { paths, truncated } = buildPaths(facts(int), [], twins.map(facts), {
      maxIntermediates: 4,
      maxPaths: 16,
      maxExtensions: 256,
    });
    assert.equal(paths.length, 16);
    assert.equal(truncated, true);
    const built = buildPaths(facts(leaf), [facts(int)], [facts(root)], {
      maxIntermediates: 4,
      maxPaths: 16,
      maxExtensions: 1,
    });
    assert.equal(built.truncated, true);
  });
});

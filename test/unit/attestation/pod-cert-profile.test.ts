import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { checkPodCertProfile } from '../../../src/attestation/pod-cert-profile.js';
import { decodePodIdentity, encodePodIdentity, type PodIdentity } from '../../../src/pod-cert/identity.js';
import { buildCertificate, type ExtensionSpec } from '../../../src/signer/certificate-builder.js';
import { podCertExtensions } from '../../../src/signer/issue.js';
import { readCertificate, withCertificateReader } from '../../../src/attestation/chain/certificate.js';
import { oid, sequence, tlv } from '../../../src/x509/der-write.js';
import { OID } from '../../../src/x509/oids.js';
import { createCa, createNodeClientCert, generateTestKey, type TestCert } from '../../support/pki.js';
import { TEST_POD_IDENTITY as ID, TEST_SIGNER as SIGNER } from '../../support/pod-cert.js';

const HOUR = 3_600_000;

describe('the pod certificate profile', () => {
  let ca: TestCert;
  const make = async (o: {
    cn?: string;
    edit?: (e: ExtensionSpec[]) => ExtensionSpec[];
    identity?: PodIdentity;
    keyAlg?: 'ecdsa-p256' | 'ed25519';
  }): Promise<X509Certificate> => {
    const key = await generateTestKey(o.keyAlg ?? 'ecdsa-p256');
    const exts = podCertExtensions(ca.der, o.identity ?? ID);
    const der = buildCertificate({
      issuerDer: ca.der,
      issuerKey: ca.key.privateKey,
      subjectSpki: key.publicKey.export({ type: 'spki', format: 'der' }),
      subjectCn: o.cn ?? 'node-attestor pod certificate',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + HOUR),
      extensions: o.edit === undefined ? exts : o.edit(exts),
    });
    return new X509Certificate(der);
  };
  const without = (id: string) => (e: ExtensionSpec[]) => e.filter((x) => x.oid !== id);
  const replace = (x: ExtensionSpec) => (e: ExtensionSpec[]) => [...without(x.oid)(e), x];

  before(async () => {
    ca = await createCa('CN=signer-ca');
  });

  it('accepts what the signer issues and reads its pod identity ', async () => {
    const leaf = await make({});
    assert.deepEqual(await withCertificateReader(() => checkPodCertProfile(leaf, SIGNER)), {
      nodeName: 'node-a',
      pod: ID,
    });
    assert.equal(
      (await withCertificateReader(() => readCertificate(leaf, 'leaf'))).basicConstraints?.ca,
      false,
    );
  });

  const san = (...names: Buffer[]): ExtensionSpec => ({
    oid: OID.subjectAltName,
    critical: false,
    value: sequence(...names),
  });
  const uri = (text: string): Buffer => tlv(0x86, Buffer.from(text, 'latin1'));
  const refusals: [string, Parameters<typeof make>[0], RegExp][] = [
    ['another CN', { cn: 'system:node:node-a' }, /subject is "CN=system:node:node-a"/],
    [
      'a CA certificate',
      {
        edit: replace({
          oid: OID.basicConstraints,
          critical: true,
          value: sequence(tlv(0x01, Buffer.from([0xff]))),
        }),
      },
      /is a CA certificate/,
    ],
    [
      'serverAuth',
      { edit: replace({ oid: OID.extKeyUsage, critical: false, value: sequence(oid('1.3.6.1.5.5.7.3.1')) }) },
      /not exactly \[clientAuth\]/,
    ],
    [
      'keyCertSign too',
      { edit: replace({ oid: OID.keyUsage, critical: true, value: tlv(0x03, Buffer.from([2, 0x84])) }) },
      /not exactly digitalSignature/,
    ],
    [
      'a DNS name beside the URI',
      { edit: replace(san(uri(encodePodIdentity(ID)), tlv(0x82, Buffer.from('node-a')))) },
      /not exactly one URI/,
    ],
    [
      'a SPIFFE ID instead of the pod identity',
      { edit: replace(san(uri('spiffe://example.org/node-a'))) },
      /does not start with urn:node-attestor:pod-cert:v1:/,
    ],
    ['no subjectAltName', { edit: without(OID.subjectAltName) }, /not exactly one URI/],
    [
      'an unknown extension',
      { edit: (e) => [...e, { oid: '1.2.3.4', critical: false, value: sequence() }] },
      /outside the profile: 1.2.3.4/,
    ],
    [
      'a critical subjectAltName',
      { edit: replace({ ...san(uri(encodePodIdentity(ID))), critical: true }) },
      /marked critical outside the profile/,
    ],
    ['an Ed25519 key', { keyAlg: 'ed25519' }, /x509pop proof of possession needs RSA or ECDSA/],
    ['an invalid node name', { identity: { ...ID, nodeName: 'Node_A' } }, /the node name it names/],
  ];
  for (const [what, shape, re] of refusals)
    it(`refuses ${what}`, async () => {
      const leaf = await make(shape);
      await assert.rejects(
        withCertificateReader(() => checkPodCertProfile(leaf, SIGNER)),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'ERR_PROFILE', e.message);
          assert.match(e.message, re);
          return true;
        },
      );
    });

  it('refuses a node client certificate of the same CA', async () => {
    const node = await createNodeClientCert(ca, 'node-a');
    await assert.rejects(
      withCertificateReader(() => checkPodCertProfile(node.cert, SIGNER)),
      /is not a node-attestor pod certificate: subject is/,
    );
  });

  it('decodes only the v1 URN with exactly the eight canonical, non-empty fields', () => {
    const text = encodePodIdentity(ID);
    assert.equal(
      text,
      'urn:node-attestor:pod-cert:v1:node-attestor.spiffe.io%2Fspire-agent:node-a:node-uid-1:spire:agent-a:pod-uid-1:spire-agent:sa-uid-1',
    );
    assert.deepEqual(decodePodIdentity(text), ID);
    assert.throws(
      () => decodePodIdentity(encodePodIdentity({ ...ID, podUID: '' })),
      /empty, overlong or non-canonical podUID/,
    );
    assert.throws(() => decodePodIdentity(text.replace(':v1:', ':v2:')), /does not start with/);
    assert.throws(() => decodePodIdentity(`${text}:extra`), /has 9 fields, not 8/);
    assert.throws(() => decodePodIdentity(text.replace(':node-a:', ':node%2Da:')), /non-canonical nodeName/);
  });
});

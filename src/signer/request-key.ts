/**
 * The subject public key of a PodCertificateRequest: the SubjectPublicKeyInfo inside its stub
 * PKCS#10 request (the kubelet's request is otherwise empty; the API server has verified its
 * signature), and whether this signer issues for that key type. Supported: what the
 * k8s_pod_cert agent can prove possession of with the x509pop challenge (ECDSA and RSA
 * signatures): ECDSA P-256 and P-384, RSA 3072 and 4096. Ed25519 and P-521, which the kubelet
 * may also generate, are refused with UnsupportedKeyType.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { TAG, expectTag, readTlv, tlvChildren } from '../x509/der.js';

export type KeyCheck =
  | { readonly ok: true; readonly spki: Buffer; readonly key: KeyObject; readonly keyType: string }
  | { readonly ok: false; readonly unsupported: boolean; readonly message: string };

/** The key type the kubelet's podCertificate volume asks for (keyType) that we suggest. */
export const SUGGESTED_KEY_TYPE = 'ECDSAP256';

const CURVES: Readonly<Record<string, string>> = { prime256v1: 'ECDSAP256', secp384r1: 'ECDSAP384' };

/** The DER SubjectPublicKeyInfo of a DER PKCS#10 CertificationRequest. */
export function spkiOfRequest(der: Buffer): Buffer {
  const outer = expectTag(
    readTlv(der, 0, der.length, 'CertificationRequest'),
    TAG.sequence,
    'CertificationRequest',
  );
  const [info] = tlvChildren(der, outer, 'CertificationRequest');
  const parts = tlvChildren(
    der,
    expectTag(info, TAG.sequence, 'CertificationRequestInfo'),
    'CertificationRequestInfo',
  );
  const spki = expectTag(parts[2], TAG.sequence, 'subjectPKInfo');
  return der.subarray(spki.offset, spki.end);
}

/** Reads and classifies the request's key. */
export function checkRequestKey(stubPKCS10RequestBase64: string): KeyCheck {
  let spki: Buffer;
  let key: KeyObject;
  try {
    spki = spkiOfRequest(Buffer.from(stubPKCS10RequestBase64, 'base64'));
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (err) {
    return {
      ok: false,
      unsupported: false,
      message: `spec.stubPKCS10Request does not hold a readable public key: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  const details = key.asymmetricKeyDetails ?? {};
  let keyType: string | undefined;
  let described: string = key.asymmetricKeyType ?? 'unknown';
  if (key.asymmetricKeyType === 'ec') {
    described = `ECDSA ${details.namedCurve ?? 'unknown curve'}`;
    keyType = CURVES[details.namedCurve ?? ''];
  } else if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    described = `RSA ${String(bits)}`;
    if (bits === 3072 || bits === 4096) keyType = `RSA${String(bits)}`;
  } else if (key.asymmetricKeyType === 'ed25519') described = 'Ed25519';
  if (keyType === undefined)
    return {
      ok: false,
      unsupported: true,
      message: `this signer does not issue for ${described} keys (the attestation proof signs with ECDSA or RSA); use keyType ${SUGGESTED_KEY_TYPE} (or ECDSAP384, RSA3072, RSA4096)`,
    };
  return { ok: true, spki, key, keyType };
}

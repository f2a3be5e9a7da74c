/**
 * The PKCS#10 request for a node client certificate, shaped exactly as kube-controller-manager's
 * nodeclient recogniser and the kube-apiserver-client-kubelet signer require (see profile.ts).
 * Encoded with the small DER writer and signed with node:crypto: see ../x509/der-write.ts for why
 * not a library.
 */
import { sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { AttestorError } from '../errors.js';
import { OID } from '../x509/oids.js';
import { spkiDer, type KeyType } from './keys.js';
import { NODE_ORGANIZATION, nodeCommonName, validateNodeName } from './profile.js';
import {
  bitString,
  derNull,
  directoryString,
  oid,
  sequence,
  set,
  smallInteger,
  tlv,
} from '../x509/der-write.js';
import { encodePem } from '../x509/pem.js';

export interface NodeCsrParams {
  readonly nodeName: string;
  readonly keyType: KeyType;
  readonly privateKey: KeyObject;
}

const signAsync = promisify(sign);

/**
 * Signature algorithm per key type: the AlgorithmIdentifier DER and the digest node:crypto takes
 * (null for Ed25519, which hashes internally). ECDSA hashes match the curve size, as Go's
 * x509.CreateCertificateRequest picks them; RSA parameters are an explicit NULL (RFC 4055).
 */
function signatureAlgorithm(keyType: KeyType): { readonly id: Buffer; readonly digest: string | null } {
  switch (keyType) {
    case 'ecdsa-p256':
      return { id: sequence(oid('1.2.840.10045.4.3.2')), digest: 'sha256' };
    case 'ecdsa-p384':
      return { id: sequence(oid('1.2.840.10045.4.3.3')), digest: 'sha384' };
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return { id: sequence(oid('1.2.840.113549.1.1.11'), derNull()), digest: 'sha256' };
    case 'ed25519':
      return { id: sequence(oid('1.3.101.112')), digest: null };
  }
}

/** Name ::= SEQUENCE OF RDN, one attribute per RDN. */
function name(attributes: readonly (readonly [type: string, value: string])[]): Buffer {
  return sequence(...attributes.map(([type, value]) => set(sequence(oid(type), directoryString(value)))));
}

/**
 * Builds and signs the request; returns its `CERTIFICATE REQUEST` PEM. The subject is the
 * structured name O=system:nodes, CN=system:node:<name> in that order (what Go's pkix.Name
 * encodes, so the issued certificate reads the same), with no attributes and no extensions: the
 * signer rejects SANs.
 */
export async function buildNodeCsr(params: NodeCsrParams): Promise<string> {
  const nodeName = validateNodeName(params.nodeName, 'node name');
  const algorithm = signatureAlgorithm(params.keyType);
  const info = sequence(
    smallInteger(0), // version v1
    name([
      [OID.organization, NODE_ORGANIZATION],
      [OID.commonName, nodeCommonName(nodeName)],
    ]),
    spkiDer(params.privateKey),
    tlv(0xa0), // attributes [0] IMPLICIT SET OF Attribute: empty
  );
  let signature: Buffer;
  try {
    // ECDSA signatures come out DER-encoded (r, s), which is what X.509 carries.
    signature = await signAsync(algorithm.digest, info, params.privateKey);
  } catch (err) {
    throw new AttestorError('ERR_INPUT', `cannot sign the request with a ${params.keyType} key`, {
      cause: err,
    });
  }
  return encodePem('CERTIFICATE REQUEST', sequence(info, algorithm.id, bitString(signature)));
}

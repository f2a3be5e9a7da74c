/** The throwaway PKI of one local control plane, written as files the components read. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EKU, KU, createCa, createCert, generateTestKey, type TestCert } from '../support/pki.js';

export interface ClusterPki {
  readonly ca: TestCert;
  readonly caCertPath: string;
  readonly caKeyPath: string;
  readonly apiserverCertPath: string;
  readonly apiserverKeyPath: string;
  readonly adminCertPath: string;
  readonly adminKeyPath: string;
  readonly saKeyPath: string;
  readonly saPubPath: string;
}

export interface UserCredential {
  readonly certPath: string;
  readonly keyPath: string;
}

const YEAR = 365 * 24 * 3600_000;

function writePair(dir: string, name: string, c: TestCert): UserCredential {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  writeFileSync(certPath, c.pem);
  writeFileSync(keyPath, c.key.privateKeyPem, { mode: 0o600 });
  return { certPath, keyPath };
}

/**
 * `serviceIp`: the `kubernetes` Service ClusterIP pods dial (the first address of the Service
 * range), named in the API server's certificate; 10.0.0.1 for the default 10.0.0.0/24.
 */
export async function createClusterPki(dir: string, serviceIp = '10.0.0.1'): Promise<ClusterPki> {
  const now = Date.now();
  const ca = await createCa('CN=node-attestor-test-cluster-ca', {
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 10 * YEAR),
  });
  const caPair = writePair(dir, 'ca', ca);
  const apiserver = await createCert({
    subject: 'CN=kube-apiserver',
    issuer: ca,
    ca: false,
    keyUsage: KU.digitalSignature | KU.keyEncipherment,
    extKeyUsage: [EKU.serverAuth],
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
    ipAddresses: ['127.0.0.1', serviceIp],
    notAfter: new Date(now + YEAR),
  });
  const apiPair = writePair(dir, 'apiserver', apiserver);
  const admin = await createCert({
    subject: [{ O: ['system:masters'] }, { CN: ['node-attestor-test-admin'] }],
    issuer: ca,
    ca: false,
    keyUsage: KU.digitalSignature | KU.keyEncipherment,
    extKeyUsage: [EKU.clientAuth],
    notAfter: new Date(now + YEAR),
  });
  const adminPair = writePair(dir, 'admin', admin);
  const sa = await generateTestKey('ecdsa-p256');
  const saKeyPath = join(dir, 'sa.key');
  const saPubPath = join(dir, 'sa.pub');
  writeFileSync(saKeyPath, sa.privateKeyPem, { mode: 0o600 });
  writeFileSync(saPubPath, sa.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  return {
    ca,
    caCertPath: caPair.certPath,
    caKeyPath: caPair.keyPath,
    apiserverCertPath: apiPair.certPath,
    apiserverKeyPath: apiPair.keyPath,
    adminCertPath: adminPair.certPath,
    adminKeyPath: adminPair.keyPath,
    saKeyPath,
    saPubPath,
  };
}

/** A client certificate for a (non-admin) user, signed directly by the cluster CA. */
export async function mintUser(
  pki: ClusterPki,
  dir: string,
  user: string,
  groups: readonly string[] = [],
): Promise<UserCredential> {
  const cert = await createCert({
    subject: [...(groups.length > 0 ? [{ O: [...groups] }] : []), { CN: [user] }],
    issuer: pki.ca,
    ca: false,
    keyUsage: KU.digitalSignature | KU.keyEncipherment,
    extKeyUsage: [EKU.clientAuth],
  });
  return writePair(dir, user.replaceAll(/[^A-Za-z0-9._-]/g, '_'), cert);
}

/**
 * A kubelet serving certificate signed by the cluster CA, for `name` at 127.0.0.1 and `nodeIp`:
 * clients that trust the cluster CA (SPIRE's k8s workload attestor with its default kubelet CA,
 * the pod's ca.crt) can verify the kubelet, as on clusters whose kubelets get CA-signed serving
 * certificates. (A kubelet left alone serves a self-signed certificate no one can verify.)
 */
export async function mintKubeletServing(
  pki: ClusterPki,
  dir: string,
  name: string,
  nodeIp: string,
): Promise<UserCredential> {
  const cert = await createCert({
    subject: [{ O: ['system:nodes'] }, { CN: [`system:node:${name}`] }],
    issuer: pki.ca,
    ca: false,
    keyUsage: KU.digitalSignature | KU.keyEncipherment,
    extKeyUsage: [EKU.serverAuth],
    dnsNames: [name],
    ipAddresses: ['127.0.0.1', nodeIp],
  });
  return writePair(dir, 'kubelet-serving', cert);
}

/** Shared set-up for the src/kube tests. */
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { after } from 'node:test';
import { resolveKubeAccess, type KubeAccess } from '../../../src/kube/access.js';
import type { CsrObject } from '../../../src/kube/csr-api.js';
import { createCsrClient, type CsrClient, type CsrClientOptions } from '../../../src/kube/csr-client.js';
import {
  startFakeApiServer,
  type FakeApiServer,
  type FakeApiServerOptions,
} from '../../support/fake-apiserver.js';
import { generateTestKey } from '../../support/pki.js';

/** A temporary directory removed after the test file. */
export function tempDir(prefix = 'kube-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** An environment with nothing Kubernetes-related in it, for deterministic resolution. */
export const EMPTY_ENV: Readonly<Record<string, string | undefined>> = {};

export async function nodeCsrPem(nodeName = 'node-1'): Promise<string> {
  const key = await generateTestKey('ecdsa-p256');
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `O=system:nodes, CN=system:node:${nodeName}`,
    keys: key.keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams,
  });
  return csr.toString('pem');
}

export interface Setup {
  readonly api: FakeApiServer;
  readonly access: KubeAccess;
  readonly client: CsrClient;
  readonly dir: string;
  close(): Promise<void>;
}

/** A fake API server and a CSR client authenticated to it with a client certificate. */
export async function setup(
  opts: FakeApiServerOptions = {},
  clientOpts: CsrClientOptions = {},
): Promise<Setup> {
  const api = await startFakeApiServer(opts);
  const dir = tempDir();
  const files = await api.writeClientFiles(dir);
  const access = await resolveKubeAccess({ server: api.url, ...files, env: EMPTY_ENV, homeDir: dir });
  const client = createCsrClient(access, {
    ...clientOpts,
    wait: { initialBackoffMs: 20, maxBackoffMs: 100, ...clientOpts.wait },
  });
  return {
    api,
    access,
    client,
    dir,
    close: async () => {
      client.close();
      await api.close();
    },
  };
}

export async function createNodeCsr(client: CsrClient, nodeName = 'node-1'): Promise<CsrObject> {
  return client.createCsr({
    generateName: 'node-csr-',
    requestPem: await nodeCsrPem(nodeName),
    signerName: 'kubernetes.io/kube-apiserver-client-kubelet',
    usages: ['digital signature', 'client auth'],
  });
}

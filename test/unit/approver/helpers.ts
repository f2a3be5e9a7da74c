/** Shared set-up for the approver tests: PKCS#10 variants, CSR objects, a fake API server. */
import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { after } from 'node:test';
import { parseCsrObject, type CsrObject } from '../../../src/kube/csr-api.js';
import { createKubeClient, type KubeClient } from '../../../src/kube/http.js';
import { resolveKubeAccess } from '../../../src/kube/access.js';
import { NODE_CLIENT_SIGNER } from '../../../src/csr/profile.js';
import {
  startFakeApiServer,
  type FakeApiServer,
  type FakeApiServerOptions,
} from '../../support/fake-apiserver.js';
import { generateTestKey, type TestKeyAlg } from '../../support/pki.js';
import { EXTRA } from '../../../src/approver/requester.js';
import type { ApproverMetrics } from '../../../src/approver/metrics.js';
import { sampleValue } from '../../support/prometheus-text.js';

export const AGENT = 'system:serviceaccount:spire:spire-agent';
/** What our CLI and agent plugin request by default (1h). */
export const AGENT_EXPIRATION_SECONDS = 3600;

export function tempDir(prefix = 'approver-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

const SIGNING: Record<string, webcrypto.Algorithm | webcrypto.EcdsaParams> = {
  'ecdsa-p256': { name: 'ECDSA', hash: 'SHA-256' },
  'rsa-2048': { name: 'RSASSA-PKCS1-v1_5' },
  ed25519: { name: 'Ed25519' },
};

export interface RequestShape {
  /** A peculiar name: a string or JSON RDNs. Default O=system:nodes, CN=system:node:<node>. */
  readonly name?: string | x509.JsonName;
  readonly node?: string;
  readonly extensions?: x509.Extension[];
  readonly attributes?: x509.Attribute[];
  readonly alg?: TestKeyAlg;
}

export async function requestPem(shape: RequestShape = {}): Promise<string> {
  const alg = shape.alg ?? 'ecdsa-p256';
  const key = await generateTestKey(alg);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: shape.name ?? [{ O: ['system:nodes'] }, { CN: [`system:node:${shape.node ?? 'node-a'}`] }],
    keys: key.keys,
    signingAlgorithm: SIGNING[alg] ?? { name: 'ECDSA', hash: 'SHA-256' },
    ...(shape.extensions === undefined ? {} : { extensions: shape.extensions }),
    ...(shape.attributes === undefined ? {} : { attributes: shape.attributes }),
  });
  return csr.toString('pem');
}

export interface Binding {
  readonly nodeName?: string;
  readonly nodeUid?: string;
  readonly podName?: string;
  readonly podUid?: string;
  readonly credentialId?: string;
}

export function extraFor(b: Binding): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [field, key] of Object.entries(EXTRA)) {
    const v = (b as Record<string, string | undefined>)[field];
    if (v !== undefined) out[key] = [v];
  }
  return out;
}

let serial = 0;

/** A CsrObject as the API would hand it out (for the pure decision tests). */
export function csrObject(
  pem: string,
  o: {
    username?: string;
    extra?: Record<string, string[]>;
    usages?: string[];
    signerName?: string;
    conditions?: CsrObject['status']['conditions'];
    certificate?: string;
    request?: string;
    /** Default 3600, what our agents request; null leaves it out. */
    expirationSeconds?: number | null;
  } = {},
): CsrObject {
  const expirationSeconds =
    o.expirationSeconds === undefined ? AGENT_EXPIRATION_SECONDS : o.expirationSeconds;
  serial++;
  return {
    metadata: {
      name: `csr-${String(serial)}`,
      resourceVersion: String(serial),
      uid: `uid-${String(serial)}`,
      creationTimestamp: new Date().toISOString(),
    },
    spec: {
      request: o.request ?? Buffer.from(pem).toString('base64'),
      signerName: o.signerName ?? NODE_CLIENT_SIGNER,
      usages: o.usages ?? ['digital signature', 'client auth'],
      ...(expirationSeconds === null ? {} : { expirationSeconds }),
      username: o.username ?? AGENT,
      ...(o.extra === undefined ? {} : { extra: o.extra }),
    },
    status: {
      conditions: o.conditions ?? [],
      ...(o.certificate === undefined ? {} : { certificate: o.certificate }),
    },
  };
}

export interface ApiSetup {
  readonly api: FakeApiServer;
  /** Authenticated as the approver (a client certificate). */
  readonly kube: KubeClient;
  readonly dir: string;
  /** Kube access flags for the approver command. */
  readonly approverFlags: string[];
  /** Creates a CSR as the agent with `binding` recorded in spec.extra. */
  createCsr(pem: string, binding?: Binding, user?: string, usages?: string[]): Promise<CsrObject>;
  close(): Promise<void>;
}

let tokens = 0;

export async function apiSetup(opts: FakeApiServerOptions = {}): Promise<ApiSetup> {
  const api = await startFakeApiServer(opts);
  // Removed by close(): after() registered from inside a before() hook runs too early.
  const dir = mkdtempSync(join(tmpdir(), 'approver-test-'));
  const files = await api.writeClientFiles(dir, 'system:serviceaccount:spire:node-attestor-approver');
  const access = await resolveKubeAccess({ server: api.url, ...files, env: {}, homeDir: dir });
  const kube = createKubeClient(access, { requestTimeoutMs: 5000 });
  const clients: KubeClient[] = [kube];
  return {
    api,
    kube,
    dir,
    approverFlags: [
      '-server',
      api.url,
      '-ca-cert',
      files.caCert,
      '-client-cert',
      files.clientCert,
      '-client-key',
      files.clientKey,
    ],
    createCsr: async (pem, binding = {}, user = AGENT, usages = ['digital signature', 'client auth']) => {
      tokens++;
      const token = `token-${String(tokens)}`;
      api.addToken(token, { name: user, extra: extraFor(binding) });
      const tokenFile = join(dir, `${token}.txt`);
      writeFileSync(tokenFile, token);
      const agent = createKubeClient(
        await resolveKubeAccess({ server: api.url, caCert: files.caCert, tokenFile, env: {}, homeDir: dir }),
      );
      clients.push(agent);
      return parseCsrObject(
        await agent.requestJson('POST', '/apis/certificates.k8s.io/v1/certificatesigningrequests', {
          apiVersion: 'certificates.k8s.io/v1',
          kind: 'CertificateSigningRequest',
          metadata: { generateName: 'node-csr-' },
          spec: {
            request: Buffer.from(pem).toString('base64'),
            signerName: NODE_CLIENT_SIGNER,
            usages,
            expirationSeconds: AGENT_EXPIRATION_SECONDS,
          },
        }),
      );
    },
    close: async () => {
      for (const c of clients) c.close();
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `predicate` until it holds; rejects after `timeoutMs`. Only for state that announces no
 * event of its own (a fake API server's records, a metric, a queue's length).
 */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'the condition',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`until: ${what} did not hold within ${String(timeoutMs)} ms`);
    await sleep(5);
  }
}

/** One approver metric as /metrics shows it (read with the strict text-format reader); NaN when absent. */
export async function approverMetric(
  m: ApproverMetrics,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): Promise<number> {
  return sampleValue(await m.registry.metrics(), `node_attestor_approver_${name}`, labels) ?? Number.NaN;
}

/** Shared by the identity tests: temp directories, identity pairs, a fake CSR client. */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { keyMatchesCertificate } from '../../../src/csr/keys.js';
import type { IdentityDocument } from '../../../src/identity/store.js';
import type { CsrClient } from '../../../src/identity/obtain.js';
import type { CreateCsrRequest, CsrObject } from '../../../src/kube/csr-api.js';
import type { CertificateResult, WaitForCertificateOptions } from '../../../src/kube/wait-for-certificate.js';
import { createNodeClientCert, issueForCsr } from '../../support/pki.js';
import type { CertOptions, TestCert } from '../../support/pki.js';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'na-identity-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface TestPair extends IdentityDocument {
  readonly cert: TestCert;
  readonly serial: string;
}

export async function makePair(
  ca: TestCert,
  nodeName = 'n1',
  o: Partial<CertOptions> = {},
): Promise<TestPair> {
  const cert = await createNodeClientCert(ca, nodeName, o);
  return { keyPem: cert.key.privateKeyPem, chainPem: cert.pem, cert, serial: cert.cert.serialNumber };
}

/** What a reader following the documented paths sees; asserts it is a whole, matching pair. */
export async function readPairThroughPaths(
  idDir: string,
): Promise<{ keyPem: string; chainPem: string; serial: string }> {
  const keyPem = await readFile(join(idDir, 'id-doc.key'), 'utf8');
  const chainPem = await readFile(join(idDir, 'id-doc.crt'), 'utf8');
  const cert = new X509Certificate(chainPem);
  assert.ok(keyMatchesCertificate(createPrivateKey(keyPem), cert), 'key and certificate must match');
  return { keyPem, chainPem, serial: cert.serialNumber };
}

/** Entries of the directory that are not part of a settled identity directory. */
export async function leftovers(idDir: string): Promise<string[]> {
  const names = await readdir(idDir);
  const generations = names.filter((n) => n.startsWith('.id-doc-gen-'));
  return names.filter(
    (n) =>
      !['id-doc.key', 'id-doc.crt', '.id-doc-current'].includes(n) &&
      !(n.startsWith('.id-doc-gen-') && generations.length === 1),
  );
}

export interface FakeBehaviour {
  /** Issues the chain PEM for a request; default: a proper node client cert from `ca`. */
  readonly issue?: (csrPem: string, req: CreateCsrRequest) => Promise<string>;
  readonly createError?: Error;
  readonly waitError?: Error;
  /** Runs inside waitForCertificate before issuing (e.g. to look at the directory). */
  readonly duringWait?: () => Promise<void>;
}

export interface WaitCall {
  readonly name: string;
  readonly fromResourceVersion: string;
  readonly deadline: number;
}

function csrObject(name: string, resourceVersion: string, req: CreateCsrRequest, chain?: string): CsrObject {
  return {
    metadata: { name, resourceVersion },
    spec: {
      request: Buffer.from(req.requestPem).toString('base64'),
      signerName: req.signerName,
      usages: req.usages,
      ...(req.expirationSeconds === undefined ? {} : { expirationSeconds: req.expirationSeconds }),
    },
    status:
      chain === undefined
        ? { conditions: [] }
        : {
            conditions: [{ type: 'Approved', status: 'True', reason: 'AutoApproved' }],
            certificate: Buffer.from(chain).toString('base64'),
          },
  };
}

/** A CsrClient that checks requests like the API server and signs like the KCM signer. */
export class FakeCsrClient implements CsrClient {
  readonly created: CreateCsrRequest[] = [];
  readonly waits: WaitCall[] = [];
  private readonly requests = new Map<string, CreateCsrRequest>();
  private counter = 0;

  constructor(
    private readonly ca: TestCert,
    private readonly behaviour: FakeBehaviour = {},
  ) {}

  async createCsr(req: CreateCsrRequest): Promise<CsrObject> {
    this.created.push(req);
    if (this.behaviour.createError !== undefined) throw this.behaviour.createError;
    // The API server rejects requests whose self-signature does not verify.
    assert.equal(await new x509.Pkcs10CertificateRequest(req.requestPem).verify(), true);
    const name = `${req.generateName ?? ''}${String(this.counter++).padStart(5, 'x')}`;
    this.requests.set(name, req);
    return csrObject(name, String(100 + this.counter), req);
  }

  async waitForCertificate(
    name: string,
    fromResourceVersion: string,
    opts: WaitForCertificateOptions,
  ): Promise<CertificateResult> {
    this.waits.push({ name, fromResourceVersion, deadline: opts.deadline });
    const req = this.requests.get(name);
    assert.ok(req, `wait for unknown CSR ${name}`);
    opts.onProgress?.({ phase: 'pending', csrName: name, elapsedMs: 1 });
    await this.behaviour.duringWait?.();
    if (this.behaviour.waitError !== undefined) throw this.behaviour.waitError;
    opts.onProgress?.({ phase: 'approved', csrName: name, elapsedMs: 2 });
    const chain =
      this.behaviour.issue === undefined
        ? (await issueForCsr(this.ca, req.requestPem)).pem
        : await this.behaviour.issue(req.requestPem, req);
    return { certificateChainPem: chain, csr: csrObject(name, '999', req, chain) };
  }
}

export const isRoot = process.geteuid?.() === 0;
/** Why a test that acts as another user cannot run here (or false when it can). */
export const needsRoot: string | false = !isRoot && 'needs root to act as another user';
/** The attacker in these tests: nobody. */
export const NOBODY = 65534;

/** Runs `argv` as another user through util-linux setpriv (root only), from the repository root; its stdout. */
export function runAs(uid: number, argv: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'setpriv',
      [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...argv],
      { cwd: fileURLToPath(new URL('../../..', import.meta.url)) },
      (err, stdout, stderr) => {
        if (err === null) resolve(stdout);
        else reject(new Error(`${argv.join(' ')} as uid ${uid}: ${stderr || err.message}`));
      },
    );
  });
}

/** A private stand-in for /tmp: mode 1777, so every user may create entries in it. */
export async function sharedTmp(t: TestContext): Promise<string> {
  const dir = await tempDir(t);
  await chmod(dir, 0o1777);
  return dir;
}

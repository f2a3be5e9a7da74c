import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KEY_TYPES, keyMatchesCertificate, keyTypeOf } from '../../../src/csr/keys.js';
import type { KeyType } from '../../../src/csr/keys.js';
import { AttestorError, isAttestorError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log/logger.js';
import { obtainIdentity } from '../../../src/identity/obtain.js';
import type { ObtainOptions, ObtainProgress, ObtainResult } from '../../../src/identity/obtain.js';
import { readIdentity } from '../../../src/identity/read.js';
import { EKU, createCa, createCert, generateTestKey, issueForCsr } from '../../support/pki.js';
import type { TestCert } from '../../support/pki.js';
import { FakeCsrClient, leftovers, readPairThroughPaths, tempDir } from './helpers.js';
import type { FakeBehaviour } from './helpers.js';

const MIN = 60_000;
let caPromise: Promise<TestCert> | undefined;
const ca = (): Promise<TestCert> => (caPromise ??= createCa());

async function setup(
  t: Parameters<typeof tempDir>[0],
  behaviour: FakeBehaviour = {},
): Promise<{ idDir: string; client: FakeCsrClient; opts: (o?: Partial<ObtainOptions>) => ObtainOptions }> {
  const idDir = join(await tempDir(t), 'id');
  const client = new FakeCsrClient(await ca(), behaviour);
  const opts = (o: Partial<ObtainOptions> = {}): ObtainOptions => ({
    idDir,
    nodeName: 'node-1.example',
    keyType: 'ecdsa-p256',
    approvalTimeoutMs: 30_000,
    force: false,
    csrClient: client,
    ...o,
  });
  return { idDir, client, opts };
}

function assertResultMatchesDisk(r: ObtainResult, idDir: string): Promise<void> {
  return (async () => {
    const disk = await readPairThroughPaths(idDir);
    assert.equal(disk.chainPem, r.chainPem);
    assert.equal(disk.serial, r.serialNumber);
    assert.equal(r.keyPath, join(idDir, 'id-doc.key'));
    assert.equal(r.certPath, join(idDir, 'id-doc.crt'));
    assert.ok(
      keyMatchesCertificate(r.privateKey, new (await import('node:crypto')).X509Certificate(r.chainPem)),
    );
  })();
}

describe('obtainIdentity: issuing', () => {
  for (const keyType of KEY_TYPES) {
    it(`${keyType}: submits a node-client CSR, verifies the certificate, writes 0600/0644 in 0700`, async (t) => {
      const { idDir, client, opts } = await setup(t);
      const r = await obtainIdentity(opts({ keyType, expirationSeconds: 3600 }));
      assert.equal(r.reused, false);
      assert.equal(client.created.length, 1);
      const req = client.created[0]!;
      assert.equal(req.signerName, 'kubernetes.io/kube-apiserver-client-kubelet');
      assert.equal(req.generateName, 'node-csr-node-1-');
      assert.equal(req.name, undefined);
      assert.equal(req.expirationSeconds, 3600);
      assert.deepEqual(
        req.usages,
        keyType.startsWith('rsa-')
          ? ['digital signature', 'key encipherment', 'client auth']
          : ['digital signature', 'client auth'],
      );
      const csr = new x509.Pkcs10CertificateRequest(req.requestPem);
      assert.deepEqual(csr.subjectName.toJSON(), [
        { O: ['system:nodes'] },
        { CN: ['system:node:node-1.example'] },
      ]);
      assert.equal(csr.extensions.length, 0);

      assert.equal(r.csrName, client.waits[0]?.name);
      assert.equal(r.nodeName, 'node-1.example');
      assert.equal(keyTypeOf(r.privateKey), keyType);
      await assertResultMatchesDisk(r, idDir);
      assert.equal((await stat(idDir)).mode & 0o777, 0o700);
      assert.equal((await stat(r.keyPath)).mode & 0o777, 0o600);
      assert.equal((await stat(r.certPath)).mode & 0o777, 0o644);
      assert.match(await readFile(r.keyPath, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
      assert.deepEqual(await leftovers(idDir), []);
    });
  }

  it('omits expirationSeconds when not given, and waits from the created resourceVersion with a deadline', async (t) => {
    const { client, opts } = await setup(t);
    const before = Date.now();
    await obtainIdentity(opts({ approvalTimeoutMs: 5 * MIN }));
    assert.ok(!('expirationSeconds' in client.created[0]!));
    const wait = client.waits[0]!;
    assert.equal(wait.fromResourceVersion, '101');
    assert.ok(wait.deadline >= before + 5 * MIN && wait.deadline <= Date.now() + 5 * MIN);
  });

  it('stores the chain exactly as issued and reports progress in order', async (t) => {
    const inter = await createCa('CN=intermediate', { issuer: await ca() });
    let chain = '';
    const { idDir, opts } = await setup(t, {
      issue: async (csrPem) => (chain = `${(await issueForCsr(inter, csrPem)).pem}${inter.pem}`),
    });
    const phases: ObtainProgress['phase'][] = [];
    const r = await obtainIdentity(opts({ onProgress: (p) => void phases.push(p.phase) }));
    assert.deepEqual(phases, ['submitted', 'pending', 'approved', 'issued']);
    assert.equal(await readFile(join(idDir, 'id-doc.crt'), 'utf8'), chain);
    assert.equal(r.chainPem, chain);
  });

  it('does not let a throwing progress callback stop issuance', async (t) => {
    const { opts } = await setup(t);
    const r = await obtainIdentity(
      opts({
        onProgress: () => {
          throw new Error('display broke');
        },
      }),
    );
    assert.equal(r.reused, false);
  });

  it('keeps the new key off the disk until the certificate is verified', async (t) => {
    let idDir = '';
    const { opts, idDir: d } = await setup(t, {
      duringWait: async () => {
        assert.deepEqual(await readdir(idDir), [], 'nothing written while waiting');
      },
    });
    idDir = d;
    await obtainIdentity(opts());
  });
});

describe('obtainIdentity: reuse', () => {
  it('reuses a fresh identity without a CSR; force requests a new one', async (t) => {
    const { idDir, client, opts } = await setup(t);
    const first = await obtainIdentity(opts());
    const again = await obtainIdentity(opts());
    assert.equal(again.reused, true);
    assert.equal(again.csrName, undefined);
    assert.equal(again.serialNumber, first.serialNumber);
    assert.equal(again.chainPem, first.chainPem);
    assert.ok(
      keyMatchesCertificate(
        again.privateKey,
        (await readIdentity(idDir).then((r) => (r?.status === 'ok' ? r.leaf : undefined)))!,
      ),
    );
    assert.equal(client.created.length, 1);

    const forced = await obtainIdentity(opts({ force: true }));
    assert.equal(forced.reused, false);
    assert.notEqual(forced.serialNumber, first.serialNumber);
    assert.equal(client.created.length, 2);
    await assertResultMatchesDisk(forced, idDir);
  });

  it('renews near expiry (default: the last third of the lifetime) and after expiry', async (t) => {
    const { client, opts } = await setup(t, {
      // 30-minute certificates, as a short expirationSeconds would give.
      issue: async (csrPem) =>
        (
          await issueForCsr(await ca(), csrPem, {
            notBefore: new Date(start),
            notAfter: new Date(start + 30 * MIN),
          })
        ).pem,
    });
    const start = Date.now() - MIN;
    await obtainIdentity(opts());
    const at = (ms: number) => () => new Date(start + ms);
    assert.equal((await obtainIdentity(opts({ now: at(19 * MIN) }))).reused, true);
    assert.equal(client.created.length, 1);
    assert.equal((await obtainIdentity(opts({ now: at(19 * MIN), renewBeforeMs: 15 * MIN }))).reused, false);
    assert.equal(client.created.length, 2);
    // The fake's certificates all start at `start`; the clock passed here is only for decisions.
    assert.equal((await obtainIdentity(opts({ now: at(21 * MIN) }))).reused, false);
    assert.equal(client.created.length, 3);
  });

  it('requests a new identity for another node name or another key type', async (t) => {
    const { client, opts } = await setup(t);
    await obtainIdentity(opts());
    const other = await obtainIdentity(opts({ nodeName: 'node-2' }));
    assert.equal(other.reused, false);
    assert.equal(other.nodeName, 'node-2');
    assert.equal((await obtainIdentity(opts({ nodeName: 'node-2', keyType: 'ed25519' }))).reused, false);
    assert.equal((await obtainIdentity(opts({ nodeName: 'node-2', keyType: 'ed25519' }))).reused, true);
    assert.equal(client.created.length, 3);
  });

  it('replaces a broken stored pair, and logs why', async (t) => {
    const { idDir, client, opts } = await setup(t);
    await obtainIdentity(opts());
    const stranger = await generateTestKey('ecdsa-p256');
    const gen = await readdir(idDir).then((n) => n.find((x) => x.startsWith('.id-doc-gen-'))!);
    await chmod(join(idDir, gen, 'id-doc.key'), 0o600);
    await writeFile(join(idDir, gen, 'id-doc.key'), stranger.privateKeyPem);
    const lines: string[] = [];
    const logger = createLogger({ format: 'text', level: 'info', write: (l) => void lines.push(l) });
    const r = await obtainIdentity(opts({ logger }));
    assert.equal(r.reused, false);
    assert.equal(client.created.length, 2);
    assert.match(lines.join(''), /unusable.*does not match the certificate/);
    await assertResultMatchesDisk(r, idDir);
  });
});

describe('obtainIdentity: a certificate that is not ours is never written', () => {
  const cases: [string, NonNullable<FakeBehaviour['issue']>][] = [
    [
      'issued for a different key',
      async () =>
        (
          await createCert({
            subject: [{ O: ['system:nodes'] }, { CN: ['system:node:node-1.example'] }],
            issuer: await ca(),
            extKeyUsage: [EKU.clientAuth],
          })
        ).pem,
    ],
    [
      'for another node',
      async (csrPem) =>
        (
          await issueForCsr(await ca(), csrPem, {
            subject: [{ O: ['system:nodes'] }, { CN: ['system:node:evil'] }],
          })
        ).pem,
    ],
    [
      'with an extra subject attribute',
      async (csrPem) =>
        (
          await issueForCsr(await ca(), csrPem, {
            subject: [{ O: ['system:nodes'] }, { OU: ['x'] }, { CN: ['system:node:node-1.example'] }],
          })
        ).pem,
    ],
    [
      'with O=system:masters',
      async (csrPem) =>
        (
          await issueForCsr(await ca(), csrPem, {
            subject: [{ O: ['system:masters'] }, { CN: ['system:node:node-1.example'] }],
          })
        ).pem,
    ],
    [
      'without clientAuth',
      async (csrPem) => (await issueForCsr(await ca(), csrPem, { extKeyUsage: [EKU.serverAuth] })).pem,
    ],
    [
      'without any EKU',
      async (csrPem) =>
        (await issueForCsr(await ca(), csrPem, { extKeyUsage: undefined as unknown as string[] })).pem,
    ],
    [
      'already expired',
      async (csrPem) =>
        (
          await issueForCsr(await ca(), csrPem, {
            notBefore: new Date(Date.now() - 2 * MIN * 60),
            notAfter: new Date(Date.now() - MIN),
          })
        ).pem,
    ],
    [
      'not yet valid',
      async (csrPem) =>
        (await issueForCsr(await ca(), csrPem, { notBefore: new Date(Date.now() + 10 * MIN) })).pem,
    ],
    ['not a certificate', () => Promise.resolve('garbage')],
  ];
  for (const [what, issue] of cases) {
    it(`${what}: ERR_CERT_MISMATCH, the previous pair stays`, async (t) => {
      const { idDir, opts } = await setup(t);
      const first = await obtainIdentity(opts());
      const bad = new FakeCsrClient(await ca(), { issue });
      await assert.rejects(obtainIdentity(opts({ csrClient: bad, force: true })), (err: unknown) => {
        assert.ok(isAttestorError(err, 'ERR_CERT_MISMATCH'), String(err));
        assert.match(err.message, /nothing was written/);
        assert.equal(err.details.csrName, bad.waits[0]?.name);
        return true;
      });
      assert.equal((await readPairThroughPaths(idDir)).serial, first.serialNumber);
      assert.deepEqual(await leftovers(idDir), []);
    });
  }

  it('writes nothing at all into an empty directory on a mismatch', async (t) => {
    const { idDir, opts } = await setup(t, { issue: cases[0]![1] });
    await assert.rejects(obtainIdentity(opts()), (err: unknown) => isAttestorError(err, 'ERR_CERT_MISMATCH'));
    assert.deepEqual(await readdir(idDir), []);
  });
});

describe('obtainIdentity: failures', () => {
  for (const err of [
    new AttestorError('ERR_CSR_DENIED', 'denied by admin', { details: { reason: 'NoWay' } }),
    new AttestorError('ERR_TIMEOUT', 'not approved within 30s'),
    new AttestorError('ERR_CSR_FAILED', 'signer failed'),
  ]) {
    it(`${err.code} from the client propagates unchanged and nothing is written`, async (t) => {
      const { idDir, opts } = await setup(t, { waitError: err });
      await assert.rejects(obtainIdentity(opts()), (e: unknown) => e === err);
      assert.deepEqual(await readdir(idDir), []);
    });
  }

  it('wraps a non-AttestorError from the client', async (t) => {
    const { opts } = await setup(t, { createError: new TypeError('boom') });
    await assert.rejects(
      obtainIdentity(opts()),
      (e: unknown) => isAttestorError(e, 'ERR_INTERNAL') && e.message === 'boom',
    );
  });

  it('fails on an unusable id-dir before any CSR is created', async (t) => {
    const base = await tempDir(t);
    await writeFile(join(base, 'file'), '');
    const client = new FakeCsrClient(await ca());
    const common = {
      nodeName: 'n1',
      keyType: 'ecdsa-p256' as KeyType,
      approvalTimeoutMs: 1000,
      force: false,
      csrClient: client,
    };
    await assert.rejects(
      obtainIdentity({ ...common, idDir: join(base, 'file', 'id') }),
      (e: unknown) =>
        isAttestorError(e, 'ERR_IO') &&
        /cannot create identity directory .*a path component is not a directory/.test(e.message),
    );
    await chmod(base, 0o777);
    await assert.rejects(obtainIdentity({ ...common, idDir: base }), (e: unknown) =>
      isAttestorError(e, 'ERR_UNSAFE_DIR'),
    );
    await chmod(base, 0o700);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(base, 'd'), { mode: 0o700 });
    await mkdir(join(base, 'd', 'id-doc.crt'));
    await assert.rejects(obtainIdentity({ ...common, idDir: join(base, 'd') }), (e: unknown) =>
      isAttestorError(e, 'ERR_IO'),
    );
    assert.equal(client.created.length, 0);
  });

  it('validates its inputs before touching anything', async (t) => {
    const { idDir, client, opts } = await setup(t);
    const bad: [Partial<ObtainOptions>, RegExp][] = [
      [{ nodeName: 'Not_Valid' }, /not a valid node name/],
      [{ keyType: 'rsa-1024' as KeyType }, /not a supported key type/],
      [{ expirationSeconds: 599 }, /at least 600/],
      [{ expirationSeconds: 600.5 }, /whole number/],
      [{ expirationSeconds: 2 ** 31 }, /whole number/],
      [{ approvalTimeoutMs: 0 }, /must be positive/],
      [{ renewBeforeMs: -1 }, /must not be negative/],
      [{ idDir: '' }, /must not be empty/],
    ];
    for (const [o, why] of bad)
      await assert.rejects(
        obtainIdentity(opts(o)),
        (e: unknown) => isAttestorError(e, 'ERR_USAGE') && why.test(e.message),
        why.source,
      );
    assert.equal(client.created.length, 0);
    await assert.rejects(stat(idDir), /ENOENT/);
    // 600 is the minimum the API server accepts.
    await obtainIdentity(opts({ expirationSeconds: 600 }));
  });

  it('stops before submitting when the signal is already aborted', async (t) => {
    const { client, opts } = await setup(t);
    const reason = new AttestorError('ERR_TIMEOUT', 'agent shutting down');
    await assert.rejects(
      obtainIdentity(opts({ signal: AbortSignal.abort(reason) })),
      (e: unknown) => e === reason,
    );
    await assert.rejects(obtainIdentity(opts({ signal: AbortSignal.abort() })), (e: unknown) =>
      isAttestorError(e, 'ERR_CANCELLED'),
    );
    assert.equal(client.created.length, 0);
  });

  it('a failing write after issuance leaves the previous pair (ERR_IO)', async (t) => {
    const { idDir, opts } = await setup(t);
    const first = await obtainIdentity(opts());
    await assert.rejects(
      obtainIdentity(
        opts({
          force: true,
          onWriteStep: (s) => {
            if (s === 'write:cert-written') throw new AttestorError('ERR_IO', 'disk full (injected)');
          },
        }),
      ),
      (e: unknown) => isAttestorError(e, 'ERR_IO'),
    );
    assert.equal((await readPairThroughPaths(idDir)).serial, first.serialNumber);
    assert.deepEqual(await leftovers(idDir), []);
  });
});

describe('obtainIdentity: concurrency', () => {
  it('concurrent forced calls on one directory each succeed and always leave a matching pair', async (t) => {
    const { idDir, opts } = await setup(t);
    await obtainIdentity(opts());
    const state = { done: false };
    const reader = (async () => {
      while (!state.done) {
        const r = await readIdentity(idDir);
        assert.equal(r?.status, 'ok');
      }
    })();
    const results = await Promise.all(Array.from({ length: 5 }, () => obtainIdentity(opts({ force: true }))));
    state.done = true;
    await reader;
    const final = await readPairThroughPaths(idDir);
    // Last writer wins; every caller holds a consistent pair in memory either way.
    assert.ok(results.some((r) => r.serialNumber === final.serial));
    const { X509Certificate } = await import('node:crypto');
    for (const r of results) assert.ok(keyMatchesCertificate(r.privateKey, new X509Certificate(r.chainPem)));
    assert.deepEqual(await leftovers(idDir), []);
  });
});

describe('obtainIdentity: an overloaded API server (HTTP 429 on create)', () => {
  const tooMany = (): AttestorError =>
    new AttestorError('ERR_KUBE_API', 'POST …/certificatesigningrequests failed: HTTP 429', {
      details: { status: 429 },
    });

  /** The fake client, answering 429 to the first `rejections` creates. */
  function busy(
    client: FakeCsrClient,
    rejections: number,
  ): ObtainOptions['csrClient'] & { attempts: number } {
    const wrapper = {
      attempts: 0,
      createCsr: async (...args: Parameters<FakeCsrClient['createCsr']>) => {
        wrapper.attempts += 1;
        if (wrapper.attempts <= rejections) throw tooMany();
        return client.createCsr(...args);
      },
      waitForCertificate: (...args: Parameters<FakeCsrClient['waitForCertificate']>) =>
        client.waitForCertificate(...args),
    };
    return wrapper;
  }

  it('retries the create with backoff until the API server takes it', async (t) => {
    const { idDir, client, opts } = await setup(t);
    const lines: string[] = [];
    const logger = createLogger({ format: 'json', level: 'info', write: (l) => lines.push(l) });
    const csrClient = busy(client, 2);
    const r = await obtainIdentity(opts({ csrClient, logger }));
    assert.equal(csrClient.attempts, 3);
    assert.equal(client.created.length, 1, 'one CSR object in the end');
    await assertResultMatchesDisk(r, idDir);
    assert.equal(lines.filter((l) => l.includes('HTTP 429')).length, 2);
  });

  it('gives up with the 429 once the deadline would pass', async (t) => {
    const { idDir, client, opts } = await setup(t);
    const csrClient = busy(client, Infinity);
    await assert.rejects(
      obtainIdentity(opts({ csrClient, approvalTimeoutMs: 100 })),
      (e: unknown) => isAttestorError(e, 'ERR_KUBE_API') && e.details.status === 429,
    );
    assert.equal(csrClient.attempts, 1);
    assert.deepEqual(await readdir(idDir), []);
  });

  it('does not retry any other failure', async (t) => {
    const err = new AttestorError('ERR_KUBE_API', 'forbidden', { details: { status: 403 } });
    const { opts, client } = await setup(t, { createError: err });
    await assert.rejects(obtainIdentity(opts()), (e: unknown) => e === err);
    assert.equal(client.created.length, 1);
  });
});

/**
 * A fake Kubernetes API server for unit tests: real HTTPS (test PKI), client-certificate and
 * bearer-token authentication, and a scriptable certificates.k8s.io/v1 CSR store with
 * resourceVersions, watch replay from a resourceVersion, 410 Gone after compaction, and a cluster
 * CA that signs real node client certificates for the requested public key.
 *
 * It mimics the parts of kube-apiserver node-attestor relies on (object and Status shapes, watch
 * framing, error codes); it is not a substitute for the real-cluster suite.
 *
 *   const api = await startFakeApiServer({ autoApprove: 'approve-and-sign' });
 *   const files = await api.writeClientFiles(dir, 'spire-agent');   // ca.crt, client.crt, client.key
 *   const access = await resolveKubeAccess({ server: api.url, caCert: files.caCert, clientCert: files.clientCert, clientKey: files.clientKey });
 *   ...
 *   await api.close();
 */
import 'reflect-metadata';
import { randomBytes, randomUUID, type webcrypto } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { createCa, createCert, EKU, KU, type TestCert } from './pki.js';

const CSR_PATH = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
const NODES_PATH = '/api/v1/nodes';

export interface FakeUser {
  readonly name: string;
  readonly groups?: readonly string[];
  /** What the API server records as spec.extra of the CSRs this user creates (bound tokens). */
  readonly extra?: Readonly<Record<string, readonly string[]>>;
  /** spec.uid of the CSRs this user creates. */
  readonly uid?: string;
}

export type FakeVerb = 'create' | 'get' | 'list' | 'watch' | 'delete' | 'update';

export interface FakeApiServerOptions {
  /** Bearer token → user. */
  readonly tokens?: Readonly<Record<string, string | FakeUser>>;
  /**
   * What happens to each new CSR, like kube-controller-manager with (or without) the nodeclient
   * binding: nothing, approval only (no signer), or approval then a signed certificate.
   */
  readonly autoApprove?: 'off' | 'approve' | 'approve-and-sign';
  /** Delay before the automatic approval (and again before signing). Default 0. */
  readonly autoApproveDelayMs?: number;
  /** Delay before every response. */
  readonly delayMs?: number;
  /**
   * RBAC stand-in: return false to answer 403 Forbidden. Requests without credentials come from
   * user system:anonymous (as with kube-apiserver's default anonymous auth). Default: every
   * authenticated user may do anything, system:anonymous nothing.
   */
  readonly authorize?: (req: { user: FakeUser; verb: FakeVerb; resource: string; name?: string }) => boolean;
  /** The signer's maximum (and default) certificate lifetime. Default 3600. */
  readonly signingDurationSeconds?: number;
}

/** A scripted answer for matching requests, checked before normal handling. */
export interface FakeRule {
  readonly method?: string;
  /** Exact path (no query) or a pattern. */
  readonly path?: string | RegExp;
  /** Only watch requests (true) or only non-watch requests (false). */
  readonly watch?: boolean;
  /** How many requests it applies to. Default 1; Infinity for all. */
  readonly times?: number;
  readonly delayMs?: number;
  /**
   * A Status error; 'destroy' resets the connection; 'hang' never answers; 'empty-watch' answers
   * 200 and ends the stream at once; 'pass' only applies delayMs.
   */
  readonly respond:
    | {
        readonly status: number;
        readonly reason?: string;
        readonly message?: string;
        readonly rawBody?: string;
      }
    | 'destroy'
    | 'hang'
    | 'empty-watch'
    | 'pass';
}

export interface RecordedRequest {
  readonly method: string;
  /** The raw request target, query included, as sent. */
  readonly url: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly user?: string;
  readonly auth: 'certificate' | 'token' | 'none';
}

export interface CsrJson {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    generateName?: string;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
    labels?: Record<string, string>;
  };
  spec: {
    request: string;
    signerName: string;
    usages: string[];
    expirationSeconds?: number;
    username: string;
    groups: string[];
    uid: string;
    extra?: Record<string, string[]>;
  };
  status: {
    conditions?: {
      type: string;
      status: string;
      reason: string;
      message: string;
      lastUpdateTime: string;
      lastTransitionTime: string;
    }[];
    certificate?: string;
  };
}

export interface LeaseJson {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion: string; uid: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

interface StoredEvent {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: CsrJson;
}

interface OpenWatch {
  readonly res: ServerResponse;
  readonly name?: string;
  readonly signerName?: string;
  readonly bookmarks: boolean;
  timer?: NodeJS.Timeout;
}

export interface ClientFiles {
  readonly caCert: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

export interface FakeApiServer {
  /** https://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** The CA that issued the serving certificate: pass as -ca-cert. */
  readonly serverCa: TestCert;
  /** The serving certificate itself (pinned mode: pass it as -ca-cert). */
  readonly serverCert: TestCert;
  /** Client certificates signed by this CA authenticate as their CN (groups = O). */
  readonly clientCa: TestCert;
  /** The cluster CA that signs approved CSRs. */
  readonly clusterCa: TestCert;
  /** Every request received, in order. */
  readonly requests: readonly RecordedRequest[];
  /** The current (last assigned) resourceVersion. */
  readonly resourceVersion: number;
  /** Number of watch streams open now. */
  readonly openWatches: number;

  /** A client certificate (and key, PKCS#8 PEM) for `cn`, signed by clientCa. */
  issueClientCert(cn: string, organizations?: readonly string[]): Promise<TestCert>;
  /** Writes ca.crt (serverCa), client.crt and client.key for `cn` into `dir`. */
  writeClientFiles(dir: string, cn?: string): Promise<ClientFiles>;
  /** A kubeconfig (YAML text) for this server with inline data and the given credentials. */
  kubeconfig(
    user: { cert: TestCert } | { token: string },
    opts?: { context?: string; pinned?: boolean },
  ): string;
  addToken(token: string, user: string | FakeUser): void;
  addRule(rule: FakeRule): void;

  /** A deep copy of a stored CSR. */
  csr(name: string): CsrJson | undefined;
  csrNames(): string[];
  approve(name: string, reason?: string, message?: string): void;
  /** Issues a certificate for the CSR's key (or sets `certificatePem` verbatim). */
  sign(name: string, certificatePem?: string): Promise<void>;
  approveAndSign(name: string): Promise<void>;
  deny(name: string, reason?: string, message?: string): void;
  fail(name: string, reason?: string, message?: string): void;
  remove(name: string): void;
  setNode(node: { metadata: { name: string } & Record<string, unknown> } & Record<string, unknown>): void;
  /** Stores a Pod (served at /api/v1/namespaces/<ns>/pods/<name>); a uid is added when missing. */
  setPod(
    pod: { metadata: { name: string; namespace: string } & Record<string, unknown> } & Record<
      string,
      unknown
    >,
  ): void;
  /** A stored Lease (coordination.k8s.io/v1), deep copy. */
  lease(namespace: string, name: string): LeaseJson | undefined;
  /** Core/v1 Events created through the API, in order. */
  readonly events: readonly Record<string, unknown>[];

  /** Ends every open watch cleanly (as timeoutSeconds would). */
  closeWatches(): void;
  /** Resets every open watch's connection mid-stream. */
  breakWatches(): void;
  /** Sends an ERROR event (default 410 Expired) to every open watch, then ends it. */
  sendWatchError(status?: { code: number; reason: string; message: string }): void;
  sendBookmark(): void;
  /** Writes raw bytes to every open watch (malformed or split lines). */
  sendRaw(text: string): void;
  /** Forgets history: watches from a resourceVersion older than now get 410 Gone. */
  compact(): void;
  /** Resolves once `predicate` holds (polled), rejects after timeoutMs. */
  waitUntil(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function statusBody(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'AlreadyExists',
  410: 'Expired',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

const ANONYMOUS: FakeUser = { name: 'system:anonymous', groups: ['system:unauthenticated'] };

const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function generateSuffix(): string {
  return [...randomBytes(5)].map((b) => GENERATE_ALPHABET[b % GENERATE_ALPHABET.length]).join('');
}

const clone = <T>(v: T): T => structuredClone(v);

export async function startFakeApiServer(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const serverCa = await createCa('CN=fake-apiserver-ca');
  const serverCert = await createCert({
    subject: 'CN=kube-apiserver',
    issuer: serverCa,
    ca: false,
    keyUsage: KU.digitalSignature | KU.keyEncipherment,
    extKeyUsage: [EKU.serverAuth],
    dnsNames: ['localhost', 'kubernetes.default.svc'],
    ipAddresses: ['127.0.0.1'],
  });
  const clientCa = await createCa('CN=fake-client-ca');
  const clusterCa = await createCa('CN=fake-cluster-ca');
  const signingDuration = opts.signingDurationSeconds ?? 3600;

  const tokens = new Map<string, FakeUser>();
  for (const [t, u] of Object.entries(opts.tokens ?? {}))
    tokens.set(t, typeof u === 'string' ? { name: u } : u);
  const rules: { rule: FakeRule; left: number }[] = [];
  const requests: RecordedRequest[] = [];
  const csrs = new Map<string, CsrJson>();
  const nodes = new Map<string, Record<string, unknown>>();
  const pods = new Map<string, Record<string, unknown>>();
  const leases = new Map<string, LeaseJson>();
  const events: Record<string, unknown>[] = [];
  const history: StoredEvent[] = [];
  const watches = new Set<OpenWatch>();
  let rv = 100;
  let compactedRv = 0;
  const background: Promise<unknown>[] = [];

  const matches = (w: OpenWatch, o: CsrJson): boolean =>
    (w.name === undefined || w.name === o.metadata.name) &&
    (w.signerName === undefined || w.signerName === o.spec.signerName);

  const writeEvent = (w: OpenWatch, type: string, object: unknown): void => {
    w.res.write(`${JSON.stringify({ type, object })}\n`);
  };

  const record = (type: StoredEvent['type'], o: CsrJson): void => {
    rv++;
    o.metadata.resourceVersion = String(rv);
    const snapshot = clone(o);
    history.push({ rv, type, object: snapshot });
    for (const w of watches) if (matches(w, snapshot)) writeEvent(w, type, snapshot);
  };

  const endWatch = (w: OpenWatch): void => {
    if (w.timer !== undefined) clearTimeout(w.timer);
    watches.delete(w);
    if (!w.res.writableEnded) w.res.end();
  };

  const mustGet = (name: string): CsrJson => {
    const o = csrs.get(name);
    if (o === undefined) throw new Error(`fake apiserver: no CSR ${name}`);
    return o;
  };

  const addCondition = (name: string, type: string, reason: string, message: string): void => {
    const o = mustGet(name);
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    o.status.conditions = [
      ...(o.status.conditions ?? []),
      { type, status: 'True', reason, message, lastUpdateTime: now, lastTransitionTime: now },
    ];
    record('MODIFIED', o);
  };

  const issue = async (o: CsrJson): Promise<string> => {
    const pem = Buffer.from(o.spec.request, 'base64').toString('utf8');
    const req = new x509.Pkcs10CertificateRequest(pem);
    const lifetime = Math.min(o.spec.expirationSeconds ?? signingDuration, signingDuration);
    const now = Date.now();
    let ku = KU.digitalSignature;
    if (o.spec.usages.includes('key encipherment')) ku |= KU.keyEncipherment;
    const ekus = [
      ...(o.spec.usages.includes('client auth') ? [EKU.clientAuth] : []),
      ...(o.spec.usages.includes('server auth') ? [EKU.serverAuth] : []),
    ];
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: `0${randomBytes(16).toString('hex').slice(1)}`,
      subject: req.subjectName,
      issuer: clusterCa.subject,
      notBefore: new Date(now - 5 * 60_000),
      notAfter: new Date(now + lifetime * 1000),
      publicKey: req.publicKey,
      signingKey: clusterCa.key.keys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(ku, true),
        ...(ekus.length === 0 ? [] : [new x509.ExtendedKeyUsageExtension(ekus, false)]),
        await x509.AuthorityKeyIdentifierExtension.create(clusterCa.key.keys.publicKey),
      ],
    });
    return `${cert.toString('pem')}\n`;
  };

  const api: Omit<FakeApiServer, 'url' | 'port' | 'requests' | 'resourceVersion' | 'openWatches' | 'close'> =
    {
      serverCa,
      serverCert,
      clientCa,
      clusterCa,
      issueClientCert: (cn, organizations = []) =>
        createCert({
          subject: [...organizations.map((o) => ({ O: [o] })), { CN: [cn] }],
          issuer: clientCa,
          ca: false,
          keyUsage: KU.digitalSignature,
          extKeyUsage: [EKU.clientAuth],
        }),
      writeClientFiles: async (dir, cn = 'spire-agent') => {
        await mkdir(dir, { recursive: true });
        const cert = await api.issueClientCert(cn, ['spire']);
        const files = {
          caCert: join(dir, 'ca.crt'),
          clientCert: join(dir, 'client.crt'),
          clientKey: join(dir, 'client.key'),
        };
        await writeFile(files.caCert, serverCa.pem);
        await writeFile(files.clientCert, cert.pem);
        await writeFile(files.clientKey, cert.key.privateKeyPem, { mode: 0o600 });
        return files;
      },
      kubeconfig: (user, kopts = {}) => {
        const ctx = kopts.context ?? 'fake';
        const b64 = (s: string): string => Buffer.from(s).toString('base64');
        const userLines =
          'token' in user
            ? [`    token: ${user.token}`]
            : [
                `    client-certificate-data: ${b64(user.cert.pem)}`,
                `    client-key-data: ${b64(user.cert.key.privateKeyPem)}`,
              ];
        return [
          'apiVersion: v1',
          'kind: Config',
          'clusters:',
          `- name: ${ctx}-cluster`,
          '  cluster:',
          `    server: ${server.url}`,
          `    certificate-authority-data: ${b64(kopts.pinned === true ? serverCert.pem : serverCa.pem)}`,
          'users:',
          `- name: ${ctx}-user`,
          '  user:',
          ...userLines,
          'contexts:',
          `- name: ${ctx}`,
          '  context:',
          `    cluster: ${ctx}-cluster`,
          `    user: ${ctx}-user`,
          `current-context: ${ctx}`,
          '',
        ].join('\n');
      },
      addToken: (token, user) => {
        tokens.set(token, typeof user === 'string' ? { name: user } : user);
      },
      addRule: (rule) => {
        rules.push({ rule, left: rule.times ?? 1 });
      },
      csr: (name) => {
        const o = csrs.get(name);
        return o === undefined ? undefined : clone(o);
      },
      csrNames: () => [...csrs.keys()],
      approve: (
        name,
        reason = 'KubectlApprove',
        message = 'This CSR was approved by kubectl certificate approve.',
      ) => {
        addCondition(name, 'Approved', reason, message);
      },
      sign: async (name, certificatePem) => {
        const o = mustGet(name);
        const pem = certificatePem ?? (await issue(o));
        o.status.certificate = Buffer.from(pem).toString('base64');
        record('MODIFIED', o);
      },
      approveAndSign: async (name) => {
        api.approve(
          name,
          'AutoApproved',
          'Auto approving kubelet client certificate after SubjectAccessReview.',
        );
        await api.sign(name);
      },
      deny: (name, reason = 'KubectlDeny', message = 'This CSR was denied by kubectl certificate deny.') => {
        addCondition(name, 'Denied', reason, message);
      },
      fail: (
        name,
        reason = 'SignerValidationFailure',
        message = 'invalid usage for client certificate: server auth',
      ) => {
        addCondition(name, 'Failed', reason, message);
      },
      remove: (name) => {
        const o = mustGet(name);
        csrs.delete(name);
        record('DELETED', o);
      },
      setNode: (node) => {
        nodes.set(node.metadata.name, clone(node));
      },
      setPod: (pod) => {
        const p = clone(pod);
        p.metadata.uid ??= randomUUID();
        pods.set(`${pod.metadata.namespace}/${pod.metadata.name}`, p);
      },
      lease: (namespace, name) => {
        const l = leases.get(`${namespace}/${name}`);
        return l === undefined ? undefined : clone(l);
      },
      events,
      closeWatches: () => {
        for (const w of [...watches]) endWatch(w);
      },
      breakWatches: () => {
        for (const w of [...watches]) {
          watches.delete(w);
          if (w.timer !== undefined) clearTimeout(w.timer);
          w.res.socket?.destroy();
        }
      },
      sendWatchError: (
        st = { code: 410, reason: 'Expired', message: `too old resource version: 1 (${rv})` },
      ) => {
        for (const w of [...watches]) {
          writeEvent(w, 'ERROR', statusBody(st.code, st.reason, st.message));
          endWatch(w);
        }
      },
      sendBookmark: () => {
        for (const w of watches)
          if (w.bookmarks)
            writeEvent(w, 'BOOKMARK', {
              kind: 'CertificateSigningRequest',
              apiVersion: 'certificates.k8s.io/v1',
              metadata: { resourceVersion: String(rv) },
            });
      },
      sendRaw: (text) => {
        for (const w of watches) w.res.write(text);
      },
      compact: () => {
        compactedRv = rv;
        history.length = 0;
      },
      waitUntil: async (predicate, timeoutMs = 5000) => {
        const end = Date.now() + timeoutMs;
        while (!predicate()) {
          if (Date.now() > end) throw new Error('fake apiserver: waitUntil timed out');
          await new Promise((r) => setTimeout(r, 5));
        }
      },
    };

  // ---- request handling ----

  const send = (res: ServerResponse, code: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  };
  const sendStatus = (
    res: ServerResponse,
    code: number,
    message: string,
    reason = REASONS[code] ?? 'Unknown',
  ): void => {
    send(res, code, statusBody(code, reason, message));
  };

  const authenticate = (
    req: IncomingMessage,
  ): { user?: FakeUser; auth: RecordedRequest['auth']; bad: boolean } => {
    const sock = req.socket;
    if (!(sock instanceof TLSSocket)) return { auth: 'none', bad: true };
    const peer = sock.getPeerCertificate();
    const hasCert = Object.keys(peer).length > 0;
    if (hasCert) {
      if (!sock.authorized) return { auth: 'certificate', bad: true };
      const cn = peer.subject.CN;
      const o = peer.subject.O;
      const groups = o === undefined ? [] : Array.isArray(o) ? o : [o];
      return {
        user: { name: Array.isArray(cn) ? (cn[0] ?? '') : (cn ?? ''), groups },
        auth: 'certificate',
        bad: false,
      };
    }
    const h = req.headers.authorization;
    if (h?.startsWith('Bearer ') === true) {
      const user = tokens.get(h.slice(7).trim());
      return user === undefined ? { auth: 'token', bad: true } : { user, auth: 'token', bad: false };
    }
    // Like kube-apiserver with anonymous auth on (the default): no credentials is a user too.
    return { user: ANONYMOUS, auth: 'none', bad: false };
  };

  const readBody = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  };

  const forbidden = (user: FakeUser, verb: FakeVerb, resource: string, name?: string): string => {
    const [plural, group] =
      resource === 'nodes' || resource === 'pods' || resource === 'events'
        ? [resource, '']
        : resource === 'leases'
          ? ['leases', 'coordination.k8s.io']
          : ['certificatesigningrequests', 'certificates.k8s.io'];
    const what = group === '' ? plural : `${plural}.${group}`;
    return `${what}${name === undefined ? '' : ` "${name}"`} is forbidden: User "${user.name}" cannot ${verb} resource "${plural}" in API group "${group}" at the cluster scope`;
  };

  const parseFieldSelector = (sel: string | null): { name?: string; signerName?: string } | string => {
    if (sel === null || sel === '') return {};
    const out: { name?: string; signerName?: string } = {};
    for (const part of sel.split(',')) {
      const m = /^([a-zA-Z.]+)==?(.*)$/.exec(part);
      if (m === null) return `invalid field selector ${JSON.stringify(part)}`;
      if (m[1] === 'metadata.name') out.name = m[2] ?? '';
      else if (m[1] === 'spec.signerName') out.signerName = m[2] ?? '';
      else return `"${m[1]}" is not a known field selector: only "metadata.name", "spec.signerName"`;
    }
    return out;
  };

  const handleCreate = async (req: IncomingMessage, res: ServerResponse, user: FakeUser): Promise<void> => {
    let body: unknown;
    try {
      body = await readBody(req);
    } catch {
      sendStatus(res, 400, 'the body is not JSON');
      return;
    }
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const md = (b.metadata ?? {}) as {
      name?: unknown;
      generateName?: unknown;
      labels?: Record<string, string>;
    };
    const spec = (b.spec ?? {}) as Record<string, unknown>;
    if (b.kind !== 'CertificateSigningRequest') {
      sendStatus(res, 400, 'not a CertificateSigningRequest');
      return;
    }
    const problems: string[] = [];
    let csrValid: boolean;
    try {
      const pem = Buffer.from(String(spec.request), 'base64').toString('utf8');
      if (!pem.includes('-----BEGIN CERTIFICATE REQUEST-----')) throw new Error('not PEM');
      csrValid = await new x509.Pkcs10CertificateRequest(pem).verify();
    } catch {
      csrValid = false;
    }
    const signerName = spec.signerName;
    const usages = spec.usages;
    const expirationSeconds = spec.expirationSeconds;
    if (!csrValid) problems.push('spec.request: Invalid value: []byte{...}: invalid certificate request');
    if (typeof signerName !== 'string' || signerName === '') problems.push('spec.signerName: Required value');
    if (!Array.isArray(usages) || usages.length === 0) problems.push('spec.usages: Required value');
    if (expirationSeconds !== undefined && (typeof expirationSeconds !== 'number' || expirationSeconds < 600))
      problems.push(
        `spec.expirationSeconds: Invalid value: ${JSON.stringify(expirationSeconds)}: may not specify a duration less than 600 seconds (10 minutes)`,
      );
    const name =
      typeof md.name === 'string' && md.name !== ''
        ? md.name
        : typeof md.generateName === 'string' && md.generateName !== ''
          ? `${md.generateName}${generateSuffix()}`
          : undefined;
    if (name === undefined) problems.push('metadata.name: Required value: name or generateName is required');
    if (
      problems.length > 0 ||
      name === undefined ||
      typeof signerName !== 'string' ||
      !Array.isArray(usages)
    ) {
      sendStatus(
        res,
        422,
        `CertificateSigningRequest.certificates.k8s.io "${name ?? ''}" is invalid: ${problems.join(', ')}`,
      );
      return;
    }
    if (csrs.has(name)) {
      sendStatus(res, 409, `certificatesigningrequests.certificates.k8s.io "${name}" already exists`);
      return;
    }
    const o: CsrJson = {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: {
        name,
        ...(typeof md.generateName === 'string' ? { generateName: md.generateName } : {}),
        uid: randomUUID(),
        resourceVersion: '',
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        ...(md.labels === undefined ? {} : { labels: md.labels }),
      },
      spec: {
        request: String(spec.request),
        signerName,
        usages: usages.map(String),
        ...(typeof expirationSeconds === 'number' ? { expirationSeconds } : {}),
        username: user.name,
        groups: [...(user.groups ?? []), 'system:authenticated'],
        uid: user.uid ?? '',
        ...(user.extra === undefined
          ? {}
          : { extra: Object.fromEntries(Object.entries(user.extra).map(([k, v]) => [k, [...v]])) }),
      },
      status: {},
    };
    csrs.set(name, o);
    record('ADDED', o);
    send(res, 201, o);
    const mode = opts.autoApprove ?? 'off';
    if (mode !== 'off') {
      const delay = opts.autoApproveDelayMs ?? 0;
      const p = (async () => {
        await new Promise((r) => setTimeout(r, delay));
        if (!csrs.has(name)) return;
        api.approve(
          name,
          'AutoApproved',
          'Auto approving kubelet client certificate after SubjectAccessReview.',
        );
        if (mode === 'approve-and-sign') {
          await new Promise((r) => setTimeout(r, delay));
          if (csrs.has(name)) await api.sign(name);
        }
      })().catch(() => undefined);
      background.push(p);
    }
  };

  const handleWatch = (url: URL, res: ServerResponse): void => {
    const sel = parseFieldSelector(url.searchParams.get('fieldSelector'));
    if (typeof sel === 'string') {
      sendStatus(res, 400, sel);
      return;
    }
    const rvParam = url.searchParams.get('resourceVersion') ?? '';
    const w: OpenWatch = {
      res,
      ...(sel.name === undefined ? {} : { name: sel.name }),
      ...(sel.signerName === undefined ? {} : { signerName: sel.signerName }),
      bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true',
    };
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    if (rvParam !== '' && rvParam !== '0') {
      const from = Number(rvParam);
      if (!Number.isInteger(from)) {
        writeEvent(w, 'ERROR', statusBody(400, 'BadRequest', `invalid resource version: ${rvParam}`));
        res.end();
        return;
      }
      if (from < compactedRv) {
        writeEvent(
          w,
          'ERROR',
          statusBody(410, 'Expired', `too old resource version: ${from} (${compactedRv})`),
        );
        res.end();
        return;
      }
      for (const ev of history) if (ev.rv > from && matches(w, ev.object)) writeEvent(w, ev.type, ev.object);
    } else {
      for (const o of csrs.values()) if (matches(w, o)) writeEvent(w, 'ADDED', o);
    }
    const timeoutSeconds = Number(url.searchParams.get('timeoutSeconds') ?? '0');
    if (timeoutSeconds > 0)
      w.timer = setTimeout(() => {
        endWatch(w);
      }, timeoutSeconds * 1000);
    watches.add(w);
    res.on('close', () => {
      if (w.timer !== undefined) clearTimeout(w.timer);
      watches.delete(w);
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://fake');
    const method = req.method ?? 'GET';
    const isWatch = ['1', 'true'].includes(url.searchParams.get('watch') ?? '');
    const who = authenticate(req);
    requests.push({
      method,
      url: req.url ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      ...(who.user === undefined ? {} : { user: who.user.name }),
      auth: who.auth,
    });
    if (opts.delayMs !== undefined) await new Promise((r) => setTimeout(r, opts.delayMs));

    for (const entry of rules) {
      const r = entry.rule;
      if (entry.left <= 0) continue;
      if (r.method !== undefined && r.method !== method) continue;
      if (
        r.path !== undefined &&
        (typeof r.path === 'string' ? r.path !== url.pathname : !r.path.test(url.pathname))
      )
        continue;
      if (r.watch !== undefined && r.watch !== isWatch) continue;
      entry.left--;
      if (r.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, r.delayMs));
      const respond = r.respond;
      if (respond === 'pass') break;
      if (respond === 'destroy') {
        req.socket.destroy();
        return;
      }
      if (respond === 'hang') return;
      if (respond === 'empty-watch') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end();
        return;
      }
      if (respond.rawBody !== undefined) {
        res.writeHead(respond.status, { 'Content-Type': 'application/json' });
        res.end(respond.rawBody);
        return;
      }
      sendStatus(res, respond.status, respond.message ?? REASONS[respond.status] ?? 'error', respond.reason);
      return;
    }

    if (who.bad || who.user === undefined) {
      sendStatus(res, 401, 'Unauthorized');
      return;
    }
    const user = who.user;
    const check = (verb: FakeVerb, resource: string, name?: string): boolean => {
      const ok =
        opts.authorize === undefined
          ? user !== ANONYMOUS
          : opts.authorize({ user, verb, resource, ...(name === undefined ? {} : { name }) });
      if (!ok) sendStatus(res, 403, forbidden(user, verb, resource, name));
      return ok;
    };

    const podPath = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(url.pathname);
    if (podPath !== null && method === 'GET') {
      const [ns, name] = [decodeURIComponent(podPath[1] ?? ''), decodeURIComponent(podPath[2] ?? '')];
      if (!check('get', 'pods', name)) return;
      const pod = pods.get(`${ns}/${name}`);
      if (pod === undefined) sendStatus(res, 404, `pods "${name}" not found`);
      else send(res, 200, pod);
      return;
    }
    const eventsPath = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(url.pathname);
    if (eventsPath !== null && method === 'POST') {
      if (!check('create', 'events')) return;
      const body = (await readBody(req)) as Record<string, unknown>;
      events.push(body);
      send(res, 201, body);
      return;
    }
    const leasePath = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/.exec(
      url.pathname,
    );
    if (leasePath !== null) {
      const ns = decodeURIComponent(leasePath[1] ?? '');
      const name = leasePath[2] === undefined ? undefined : decodeURIComponent(leasePath[2]);
      const key = (n: string): string => `${ns}/${n}`;
      const conflict = (n: string, what: string): void => {
        sendStatus(
          res,
          409,
          `leases.coordination.k8s.io "${n}" ${what}`,
          what === 'already exists' ? 'AlreadyExists' : 'Conflict',
        );
      };
      if (name !== undefined && method === 'GET') {
        if (!check('get', 'leases', name)) return;
        const l = leases.get(key(name));
        if (l === undefined) sendStatus(res, 404, `leases.coordination.k8s.io "${name}" not found`);
        else send(res, 200, l);
        return;
      }
      if (name === undefined && method === 'POST') {
        if (!check('create', 'leases')) return;
        const body = (await readBody(req)) as LeaseJson;
        const n = body.metadata.name;
        if (leases.has(key(n))) {
          conflict(n, 'already exists');
          return;
        }
        rv++;
        const l: LeaseJson = {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: n, namespace: ns, resourceVersion: String(rv), uid: randomUUID() },
          spec: clone(body.spec),
        };
        leases.set(key(n), l);
        send(res, 201, l);
        return;
      }
      if (name !== undefined && method === 'PUT') {
        if (!check('update', 'leases', name)) return;
        const body = (await readBody(req)) as LeaseJson;
        const l = leases.get(key(name));
        if (l === undefined) {
          sendStatus(res, 404, `leases.coordination.k8s.io "${name}" not found`);
          return;
        }
        if (body.metadata.resourceVersion !== l.metadata.resourceVersion) {
          conflict(
            name,
            'the object has been modified; please apply your changes to the latest version and try again',
          );
          return;
        }
        rv++;
        l.metadata.resourceVersion = String(rv);
        l.spec = clone(body.spec);
        send(res, 200, l);
        return;
      }
    }
    if (url.pathname.startsWith(`${NODES_PATH}/`) && method === 'GET') {
      const name = decodeURIComponent(url.pathname.slice(NODES_PATH.length + 1));
      if (!check('get', 'nodes', name)) return;
      const node = nodes.get(name);
      if (node === undefined) sendStatus(res, 404, `nodes "${name}" not found`);
      else send(res, 200, node);
      return;
    }
    if (url.pathname === CSR_PATH) {
      if (method === 'POST') {
        if (check('create', 'certificatesigningrequests')) await handleCreate(req, res, user);
        return;
      }
      if (method === 'GET' && isWatch) {
        const sel = parseFieldSelector(url.searchParams.get('fieldSelector'));
        const name = typeof sel === 'string' ? undefined : sel.name;
        if (check('watch', 'certificatesigningrequests', name)) handleWatch(url, res);
        return;
      }
      if (method === 'GET') {
        if (!check('list', 'certificatesigningrequests')) return;
        const sel = parseFieldSelector(url.searchParams.get('fieldSelector'));
        if (typeof sel === 'string') {
          sendStatus(res, 400, sel);
          return;
        }
        const all = [...csrs.values()].filter(
          (o) =>
            (sel.name === undefined || sel.name === o.metadata.name) &&
            (sel.signerName === undefined || sel.signerName === o.spec.signerName),
        );
        // limit/continue: the continue token is simply the offset of the next page.
        const limit = Number(url.searchParams.get('limit') ?? '0');
        const from = Number(url.searchParams.get('continue') ?? '0');
        const page = limit > 0 ? all.slice(from, from + limit) : all;
        const more = limit > 0 && from + limit < all.length;
        send(res, 200, {
          kind: 'CertificateSigningRequestList',
          apiVersion: 'certificates.k8s.io/v1',
          metadata: { resourceVersion: String(rv), ...(more ? { continue: String(from + limit) } : {}) },
          items: page.map((o) => {
            // List items carry no apiVersion/kind, as with kube-apiserver.
            const { apiVersion: _a, kind: _k, ...rest } = clone(o);
            return rest;
          }),
        });
        return;
      }
    }
    const m = new RegExp(`^${CSR_PATH}/([^/]+)(/approval)?$`).exec(url.pathname);
    if (m !== null) {
      const name = decodeURIComponent(m[1] ?? '');
      const o = csrs.get(name);
      const notFound = (): void => {
        sendStatus(res, 404, `certificatesigningrequests.certificates.k8s.io "${name}" not found`);
      };
      if (m[2] === '/approval' && method === 'PUT') {
        if (!check('update', 'certificatesigningrequests', name)) return;
        if (o === undefined) {
          notFound();
          return;
        }
        const body = (await readBody(req)) as Partial<CsrJson> | undefined;
        const wantRv = body?.metadata?.resourceVersion;
        if (wantRv !== undefined && wantRv !== '' && wantRv !== o.metadata.resourceVersion) {
          sendStatus(
            res,
            409,
            `Operation cannot be fulfilled on certificatesigningrequests.certificates.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
            'Conflict',
          );
          return;
        }
        const added = (body?.status?.conditions ?? []).filter(
          (c) => !(o.status.conditions ?? []).some((old) => old.type === c.type),
        );
        for (const c of added) addCondition(name, c.type, c.reason, c.message);
        send(res, 200, o);
        return;
      }
      if (method === 'GET') {
        if (!check('get', 'certificatesigningrequests', name)) return;
        if (o === undefined) notFound();
        else send(res, 200, o);
        return;
      }
      if (method === 'DELETE') {
        if (!check('delete', 'certificatesigningrequests', name)) return;
        if (o === undefined) {
          notFound();
          return;
        }
        api.remove(name);
        send(res, 200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name },
        });
        return;
      }
    }
    sendStatus(res, 404, 'the server could not find the requested resource');
  };

  const httpsServer: Server = createServer(
    {
      key: serverCert.key.privateKeyPem,
      cert: serverCert.pem,
      ca: clientCa.pem,
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendStatus(res, 500, `fake apiserver: ${String(err)}`);
        else res.destroy();
      });
    },
  );
  await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
  const port = (httpsServer.address() as AddressInfo).port;

  const server: FakeApiServer = {
    ...api,
    url: `https://127.0.0.1:${port}`,
    port,
    requests,
    get resourceVersion() {
      return rv;
    },
    get openWatches() {
      return watches.size;
    },
    close: async () => {
      await Promise.allSettled(background);
      for (const w of [...watches]) endWatch(w);
      httpsServer.closeAllConnections();
      await new Promise<void>((resolve) =>
        httpsServer.close(() => {
          resolve();
        }),
      );
    },
  };
  return server;
}

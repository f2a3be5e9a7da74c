/**
 * TLS to the API server with a CA bundle OR a pinned server certificate.
 *
 * The 2018 tutorial passes the API server's own certificate as -ca-cert. Go accepts that (a leaf
 * found in the root pool verifies); OpenSSL does not (no partial-chain flag in node:tls). So the
 * agent below connects without letting OpenSSL reject, then decides itself, before handing the
 * socket to the HTTP layer (no request byte is written until then):
 *
 * - the chain verified against the bundle and the name matched (`socket.authorized`): accept;
 * - else the server's certificate is byte-identical to one in the bundle: accept only if it is
 *   within its validity period and matches the host name or IP (`tls.checkServerIdentity`), as
 *   Go still checks both for a leaf in the root pool;
 * - else reject with the verification error.
 */
import type { Agent, AgentOptions } from 'node:https';
import { X509Certificate } from 'node:crypto';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import type { KubeTls } from './access.js';

export interface KubeAgentOptions {
  /** Handshake (TCP + TLS) timeout. */
  readonly connectTimeoutMs: number;
  /** For tests: the clock used for the pinned certificate's validity check. */
  readonly now?: () => number;
}

/** An Error carrying the OpenSSL/Node verification code, like node:tls's own errors. */
export class TlsVerifyError extends Error {
  override readonly name = 'TlsVerifyError';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

type ConnectOptions = tls.ConnectionOptions & { host?: string; port?: number; servername?: string };
type OnCreate = (err: Error | null, socket?: Duplex) => void;

/** Whether `socket`'s peer is acceptable under `material`; an error saying why not, or undefined. */
export function pinnedDecision(
  socket: tls.TLSSocket,
  hostname: string,
  material: Pick<KubeTls, 'pinned' | 'insecureSkipTlsVerify'>,
  now: number,
): Error | undefined {
  if (material.insecureSkipTlsVerify || socket.authorized) return undefined;
  const verifyCode = String(socket.authorizationError);
  // Only the legacy accessor: on Node 20, calling getPeerX509Certificate() first makes a later
  // getPeerCertificate() return {} (no subjectaltname), which checkServerIdentity then rejects.
  const legacy = socket.getPeerCertificate();
  const raw = (legacy as Partial<tls.PeerCertificate>).raw;
  if (raw === undefined || !material.pinned.some((der) => der.equals(raw)))
    return new TlsVerifyError(verifyCode, `certificate verification failed: ${verifyCode}`);
  return checkPinned(new X509Certificate(raw), legacy, hostname, now);
}

function checkPinned(
  peer: X509Certificate,
  legacy: tls.PeerCertificate,
  hostname: string,
  now: number,
): Error | undefined {
  if (now < Date.parse(peer.validFrom))
    return new TlsVerifyError('CERT_NOT_YET_VALID', 'the pinned server certificate is not yet valid');
  if (now > Date.parse(peer.validTo))
    return new TlsVerifyError('CERT_HAS_EXPIRED', 'the pinned server certificate has expired');
  return tls.checkServerIdentity(hostname, legacy);
}

export function createKubeAgent(material: KubeTls, opts: KubeAgentOptions): Agent {
  const secureContext = tls.createSecureContext({
    ...(material.caPem === undefined ? {} : { ca: material.caPem }),
    ...(material.client === undefined
      ? {}
      : {
          cert: material.client.certPem,
          key: material.client.key.reveal().export({ type: 'pkcs8', format: 'pem' }),
        }),
  });
  const now = opts.now ?? Date.now;
  // Loaded here, not at the top: on Node 24+ node:https pulls in undici, ~15 ms of every CLI
  // start (--help included) that needs no connection.
  const { Agent: HttpsAgent } = process.getBuiltinModule('node:https');

  class KubeAgent extends HttpsAgent {
    override createConnection(options: AgentOptions, oncreate: OnCreate): undefined {
      const o = options as ConnectOptions;
      const host = o.host ?? 'localhost';
      const servername = material.serverName ?? o.servername;
      const socket = tls.connect({
        host,
        port: o.port ?? 443,
        ...(servername === undefined || servername === '' ? {} : { servername }),
        secureContext,
        // We decide below, before the socket reaches the HTTP layer.
        rejectUnauthorized: false,
        ALPNProtocols: ['http/1.1'],
      });
      const finish = (err: Error | null): void => {
        socket.setTimeout(0);
        socket.removeListener('error', finish);
        if (err === null) {
          oncreate(null, socket);
        } else {
          // Nothing may surface from a socket we have given up on.
          socket.on('error', () => undefined);
          socket.destroy();
          oncreate(err);
        }
      };
      socket.setTimeout(opts.connectTimeoutMs, () => {
        const err = Object.assign(new Error(`connect timed out after ${opts.connectTimeoutMs} ms`), {
          code: 'ETIMEDOUT',
          connectTimeout: true,
        });
        finish(err);
      });
      socket.once('error', finish);
      socket.once('secureConnect', () => {
        const hostname = servername !== undefined && servername !== '' ? servername : host;
        finish(pinnedDecision(socket, hostname, material, now()) ?? null);
      });
      return undefined;
    }
  }

  return new KubeAgent({ keepAlive: true, maxCachedSessions: 0 });
}

/**
 * A client certificate and its key, as the TLS layer presents them: from flags, a kubeconfig or
 * an exec credential plugin. Its own module so the credential sources and access.ts, which
 * chooses among them, both depend on it rather than on each other.
 */
import type { KeyObject } from 'node:crypto';
import type { Secret } from './secret.js';

export interface KubeClientIdentity {
  /** The certificate chain presented in the TLS handshake. */
  readonly certPem: string;
  readonly key: Secret<KeyObject>;
  /** e.g. `CN=spire-agent, O=spire`. */
  readonly subject: string;
  readonly source: string;
}

/**
 * What a front end asks the obtain-or-reuse flow for: the node-attestor command fills it from its
 * flags, the k8s_csr agent plugin from its plugin_data. Defaults and bounds: defaults.ts.
 */
import type { KeyType } from '../csr/keys.js';

export interface IdentityRequest {
  readonly idDir: string;
  /** What the user changes to pick another directory, named in refusals ("-id-dir", "identity_dir"). */
  readonly idDirSetting?: string;
  readonly nodeName: string;
  readonly keyType: KeyType;
  /** spec.expirationSeconds (>= 600); the signer may clamp it, the issued NotAfter is what counts. */
  readonly expirationSeconds?: number;
  /** Deadline for approval and signing, counted from the CSR's creation. */
  readonly approvalTimeoutMs: number;
  /** Request a new identity even when the stored one is reusable. */
  readonly force: boolean;
  /** Renew this long before NotAfter; default a third of the lifetime (at least a minute). */
  readonly renewBeforeMs?: number;
}

/** Whether a stored identity can be used as it is, or why a new one must be requested. */
import type { KeyType } from '../csr/keys.js';
import { NODE_CN_PREFIX } from '../csr/profile.js';
import { formatSubject } from '../x509/name.js';
import type { StoredIdentity } from './read.js';

const MIN_RENEW_BEFORE_MS = 60_000;

export type NotReusableReason =
  'not-node-certificate' | 'other-node' | 'other-key-type' | 'not-yet-valid' | 'expired' | 'near-expiry';

export type Freshness =
  | { readonly reusable: true; /** When a renewal becomes due. */ readonly renewAt: Date }
  | { readonly reusable: false; readonly reason: NotReusableReason; readonly message: string };

export interface FreshnessOptions {
  readonly nodeName: string;
  readonly now: Date;
  /** Renew this long before NotAfter. Default: a third of the lifetime, at least one minute. */
  readonly renewBeforeMs?: number;
  /** When given, an identity with another key type is not reused (the user asked for a change). */
  readonly keyType?: KeyType;
}

/** A third of the lifetime (the kubelet renews at 70-90%), never under a minute. */
export function defaultRenewBeforeMs(notBefore: Date, notAfter: Date): number {
  return Math.max(MIN_RENEW_BEFORE_MS, (notAfter.getTime() - notBefore.getTime()) / 3);
}

type Checked = Pick<StoredIdentity, 'nodeName' | 'subject' | 'keyType' | 'notBefore' | 'notAfter'>;

export function isReusable(identity: Checked, options: FreshnessOptions): Freshness {
  const no = (reason: NotReusableReason, message: string): Freshness => ({
    reusable: false,
    reason,
    message,
  });
  if (identity.nodeName === undefined)
    return no(
      'not-node-certificate',
      `the certificate subject ${formatSubject(identity.subject)} is not a node client subject`,
    );
  if (identity.nodeName !== options.nodeName)
    return no(
      'other-node',
      `the certificate is for ${NODE_CN_PREFIX}${identity.nodeName}, not ${NODE_CN_PREFIX}${options.nodeName}`,
    );
  if (options.keyType !== undefined && identity.keyType !== options.keyType)
    return no(
      'other-key-type',
      `the key is ${identity.keyType ?? 'of another type'}, not ${options.keyType}`,
    );
  const now = options.now.getTime();
  if (now < identity.notBefore.getTime())
    return no('not-yet-valid', `the certificate is not valid before ${identity.notBefore.toISOString()}`);
  if (now >= identity.notAfter.getTime())
    return no('expired', `the certificate expired at ${identity.notAfter.toISOString()}`);
  const renewBefore = options.renewBeforeMs ?? defaultRenewBeforeMs(identity.notBefore, identity.notAfter);
  const renewAt = new Date(identity.notAfter.getTime() - renewBefore);
  if (now >= renewAt.getTime())
    return no(
      'near-expiry',
      `the certificate expires at ${identity.notAfter.toISOString()}, within the renewal window (renew from ${renewAt.toISOString()})`,
    );
  return { reusable: true, renewAt };
}

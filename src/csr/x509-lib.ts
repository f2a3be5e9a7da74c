/**
 * Lazy access to @peculiar/x509. It costs hundreds of milliseconds to load (tsyringe, the ASN.1
 * schemas), so only code that builds a CSR pays for it; `node-attestor --help` and the reuse path
 * never load it. It needs a Reflect polyfill loaded first, and Node's WebCrypto as its provider.
 */
import { webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';

export type X509Lib = typeof X509;

let loading: Promise<X509Lib> | undefined;

export function loadX509(): Promise<X509Lib> {
  loading ??= (async () => {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  })().catch((err: unknown) => {
    // Let a later call retry rather than caching the failure forever.
    loading = undefined;
    throw err;
  });
  return loading;
}

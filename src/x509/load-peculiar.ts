/**
 * Lazy access to @peculiar/x509 (see ./peculiar.ts), for code that needs it only on some paths:
 * building a CSR loads it, reusing a fresh identity never does.
 */
import type { X509Lib } from './peculiar.js';

let loading: Promise<X509Lib> | undefined;

export function loadX509(): Promise<X509Lib> {
  loading ??= import('./peculiar.js').then(
    (m) => m.x509,
    (err: unknown) => {
      // Let a later call retry rather than caching the failure forever.
      loading = undefined;
      throw err;
    },
  );
  return loading;
}

/**
 * The one place @peculiar/x509 is loaded. Since v2 it needs a Reflect metadata polyfill before it
 * evaluates; ESM evaluates imports in order, so importing this module (statically, or through
 * loadX509 in ./load-peculiar.ts) guarantees it. Module evaluation happens once, so the crypto
 * provider (Node's WebCrypto, which CSR signing uses) is set once.
 *
 * Loading costs hundreds of milliseconds (tsyringe, the ASN.1 schemas): code on a fast path (the
 * agent plugin, the identity reuse path, `node-attestor --help`) must not import this statically.
 * No trust decision uses the library: it only READS fields node:crypto lacks, and builds CSRs.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export type X509Lib = typeof x509;
export { x509 };

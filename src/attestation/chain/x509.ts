/**
 * The one place @peculiar/x509 is loaded. Since v2 it needs a Reflect metadata polyfill before
 * it evaluates; ESM evaluates imports in order, so this module guarantees it. We use the library
 * only to READ fields node:crypto lacks (extensions, subject attributes); no trust decision uses it.
 */
import 'reflect-metadata';

export * as x509 from '@peculiar/x509';

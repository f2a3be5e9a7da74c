/**
 * Names inside the identity directory. The two documented paths are stable symlinks into the
 * generation that `.id-doc-current` points at, so one rename(2) of `.id-doc-current` replaces
 * key and certificate together (see store.ts).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

export const KEY_FILE = 'id-doc.key';
export const CERT_FILE = 'id-doc.crt';
export const CURRENT_LINK = '.id-doc-current';
export const KEY_LINK_TARGET = `${CURRENT_LINK}/${KEY_FILE}`;
export const CERT_LINK_TARGET = `${CURRENT_LINK}/${CERT_FILE}`;
export const LOCK_FILE = '.id-doc.lock';
/** Generation directories: `.id-doc-gen-<hex>/{id-doc.key,id-doc.crt}`. */
export const GENERATION_PREFIX = '.id-doc-gen-';
/** Symlinks staged before a rename. */
export const TEMP_PREFIX = '.id-doc-tmp-';
/** Files the writability check creates and removes. */
export const PROBE_PREFIX = '.id-doc-probe-';

export const KEY_MODE = 0o600;
export const CERT_MODE = 0o644;
export const DIR_MODE = 0o700;
/**
 * Generation directories do not restrict access themselves: the files' own modes (0600 key,
 * 0644 certificate) then mean what they say, exactly as in the plain two-file layout.
 */
export const GENERATION_MODE = 0o755;

const GENERATION_NAME = /^\.id-doc-gen-[0-9a-f]{16}$/;

export function isGenerationName(name: string): boolean {
  return GENERATION_NAME.test(name);
}

export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(8).toString('hex')}`;
}

export interface IdentityPaths {
  readonly dir: string;
  readonly keyPath: string;
  readonly certPath: string;
}

export function identityPaths(idDir: string): IdentityPaths {
  return { dir: idDir, keyPath: join(idDir, KEY_FILE), certPath: join(idDir, CERT_FILE) };
}

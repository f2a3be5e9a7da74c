/** Shared helpers for the attestation unit tests. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttestorError, type ErrorCode } from '../../../src/errors.js';

/** Runs `fn`, asserts it throws an AttestorError with `code` (and message/details), returns it. */
export function expectError(
  fn: () => unknown,
  code: ErrorCode,
  message?: RegExp,
  details?: Readonly<Record<string, string | number | boolean>>,
): AttestorError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof AttestorError, `expected AttestorError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, `code of: ${caught.message}`);
  if (message !== undefined) assert.match(caught.message, message);
  for (const [key, value] of Object.entries(details ?? {}))
    assert.equal(caught.details[key], value, `details.${key}`);
  return caught;
}

/** Whether `err` is an AttestorError with one of `codes` (for property tests). */
export function isOneOf(err: unknown, ...codes: ErrorCode[]): boolean {
  return err instanceof AttestorError && codes.includes(err.code);
}

/** A time with whole seconds, as certificates store them. */
export function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

/** Runs openssl with files written to a temporary directory; returns stdout. */
export function openssl(
  files: Readonly<Record<string, string | Buffer>>,
  args: (dir: string) => string[],
): string {
  const dir = mkdtempSync(join(tmpdir(), 'attest-openssl-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    return execFileSync('openssl', args(dir), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** DER ECDSA-Sig-Value from big-endian r and s, for openssl dgst -verify. */
export function ecdsaDer(r: Buffer, s: Buffer): Buffer {
  const int = (v: Buffer): Buffer => {
    let i = 0;
    while (i < v.length - 1 && v[i] === 0) i++;
    let body = v.subarray(i);
    if ((body[0]! & 0x80) !== 0) body = Buffer.concat([Buffer.from([0]), body]);
    return Buffer.concat([Buffer.from([0x02, body.length]), body]);
  };
  const content = Buffer.concat([int(r), int(s)]);
  const length = content.length < 0x80 ? Buffer.from([content.length]) : Buffer.from([0x81, content.length]);
  return Buffer.concat([Buffer.from([0x30]), length, content]);
}

/**
 * The one PEM reader. Block framing is strict everywhere: a BEGIN line, the body, then an END
 * marker with the same label; a block whose first END names another label is a problem, never
 * skipped or stretched to a later END. What differs between callers is policy, so it is chosen
 * by function: text outside the blocks (refused in a file we wrote or a wire format, ignored in
 * PEM found in the wild, with openssl's "subject=" lines and comments), other block types, and
 * who decodes the base64 (we do, canonically, or OpenSSL does).
 *
 * Problems are returned as data, not messages: each caller words them under its own error code
 * (ERR_INPUT naming a file, ERR_KUBE_API naming a CSR, …).
 */
import { X509Certificate } from 'node:crypto';
import { decodeStdBase64 } from '../util/base64.js';

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

export interface PemBlock {
  /** The BEGIN label, e.g. CERTIFICATE, EC PRIVATE KEY. */
  readonly label: string;
  /** The block as it appeared, BEGIN line to END marker: what OpenSSL parses. */
  readonly text: string;
  /** What lies between the BEGIN line and the END marker: base64, perhaps with RFC 1421 headers. */
  readonly body: string;
}

/** Success, or what is wrong. */
export type PemResult<T, P> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: P };

/** Block and certificate numbers in problems count from 1. */
export interface MismatchedEnd {
  readonly kind: 'mismatched-end';
  readonly block: number;
  readonly begin: string;
  readonly end: string;
}
/** Text other than whitespace before block `block` (strict reading). */
export interface TextBefore {
  readonly kind: 'text-before';
  readonly block: number;
}
/** Text other than whitespace after the last block (strict reading; there is at least one block). */
export interface TextAfter {
  readonly kind: 'text-after';
}
export interface NotCertificate {
  readonly kind: 'not-certificate';
  readonly block: number;
  readonly label: string;
}
/** The body is not canonical standard base64, or is empty. */
export interface BadBase64 {
  readonly kind: 'bad-base64';
  readonly block: number;
}
/** OpenSSL refused certificate `certificate` (counting CERTIFICATE blocks only). */
export interface Unparsable {
  readonly kind: 'unparsable';
  readonly certificate: number;
  readonly cause: unknown;
}
export interface NoCertificate {
  readonly kind: 'no-certificate';
}

export type StrictChainProblem =
  TextBefore | TextAfter | MismatchedEnd | NotCertificate | BadBase64 | NoCertificate;
export type ChainProblem = MismatchedEnd | NotCertificate | Unparsable | NoCertificate;
export type BundleProblem = MismatchedEnd | Unparsable | NoCertificate;

/** Thrown inside this module only, so a per-block check can stop the scan at once. */
class Stop extends Error {
  constructor(readonly problem: StrictChainProblem | ChainProblem) {
    super(problem.kind);
  }
}

/**
 * Calls `each` for every block in order and stops at the first problem, so a bad block is
 * reported before a framing problem further on is even looked at. `strict` refuses text outside
 * the blocks.
 */
function scan(text: string, strict: boolean, each: (block: PemBlock, n: number) => void): void {
  let last = 0;
  let count = 0;
  for (const m of text.matchAll(BLOCK)) {
    const [whole, begin = '', body = '', end = ''] = m;
    count++;
    if (strict && text.slice(last, m.index).trim() !== '')
      throw new Stop({ kind: 'text-before', block: count });
    last = m.index + whole.length;
    if (begin !== end) throw new Stop({ kind: 'mismatched-end', block: count, begin, end });
    each({ label: begin, text: whole, body }, count);
  }
  // Text and no block at all is left to the caller: for a chain, that is "no certificate".
  if (strict && count > 0 && text.slice(last).trim() !== '') throw new Stop({ kind: 'text-after' });
}

/** Runs a scan; `P` must cover every problem `body` can stop with (each exported function says its own). */
function run<T, P>(body: () => T): PemResult<T, P> {
  try {
    return { ok: true, value: body() };
  } catch (err) {
    if (err instanceof Stop) return { ok: false, problem: err.problem as P };
    throw err;
  }
}

/** Every block, skipping text around them (PEM as found in the wild: key files, bundles). */
export function readPemBlocks(text: string): PemResult<PemBlock[], MismatchedEnd> {
  return run(() => {
    const blocks: PemBlock[] = [];
    scan(text, false, (b) => blocks.push(b));
    return blocks;
  });
}

/**
 * The DER of each block of a certificate chain, read strictly: CERTIFICATE blocks only, nothing
 * but whitespace around them, canonical standard base64 (what Go's encoding/pem writes). For
 * what the agent sends and the CA bundles the server trusts: anything odd is refused, not skipped.
 */
export function decodeStrictPemCertificates(text: string): PemResult<Buffer[], StrictChainProblem> {
  return run(() => {
    const ders: Buffer[] = [];
    scan(text, true, (block, n) => {
      if (block.label !== 'CERTIFICATE')
        throw new Stop({ kind: 'not-certificate', block: n, label: block.label });
      const der = decodeStdBase64(block.body.replace(/\s+/g, ''));
      if (der === undefined || der.length === 0) throw new Stop({ kind: 'bad-base64', block: n });
      ders.push(der);
    });
    if (ders.length === 0) throw new Stop({ kind: 'no-certificate' });
    return ders;
  });
}

export interface PemCertificate {
  readonly block: PemBlock;
  readonly cert: X509Certificate;
}

function parseCertificates(text: string, otherBlocks: 'reject' | 'skip'): PemCertificate[] {
  const out: PemCertificate[] = [];
  scan(text, false, (block, n) => {
    if (block.label !== 'CERTIFICATE') {
      if (otherBlocks === 'skip') return;
      throw new Stop({ kind: 'not-certificate', block: n, label: block.label });
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block.text);
    } catch (cause) {
      throw new Stop({ kind: 'unparsable', certificate: out.length + 1, cause });
    }
    out.push({ block, cert });
  });
  if (out.length === 0) throw new Stop({ kind: 'no-certificate' });
  return out;
}

/**
 * A certificate chain we use as an identity (leaf first): every block a CERTIFICATE that OpenSSL
 * parses, at least one. Text outside the blocks is ignored, as PEM allows.
 */
export function parsePemChain(text: string): PemResult<PemCertificate[], ChainProblem> {
  return run(() => parseCertificates(text, 'reject'));
}

/**
 * A CA bundle or a chain as a Kubernetes API hands it out: CERTIFICATE blocks, each parsed by
 * OpenSSL, at least one; other blocks and text around them are skipped, as Go's
 * AppendCertsFromPEM and client-go do.
 */
export function parsePemBundle(text: string): PemResult<PemCertificate[], BundleProblem> {
  return run(() => parseCertificates(text, 'skip'));
}

/** One PEM block: base64 of `der` in 64-character lines between BEGIN/END `label` lines. */
export function encodePem(label: string, der: Uint8Array): string {
  const body = Buffer.from(der)
    .toString('base64')
    .replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

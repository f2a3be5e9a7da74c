/**
 * The one PEM reader. Block framing is strict everywhere: a BEGIN line, the body, then an END
 * marker with the same label; a block whose first END names another label is a problem, never
 * skipped or stretched to a later END. What differs between callers is policy, so it is chosen
 * by function: text outside the blocks (refused in a file we wrote or a wire format, ignored in
 * PEM found in the wild, with openssl's "subject=" lines and comments), other block types, and
 * who decodes the base64 (we do, canonically, or OpenSSL does).
 *
 * The scan is linear in the input (see nextBlock), and the input's size is checked against
 * MAX_PEM_BYTES, and each certificate's against MAX_CERTIFICATE_DER_BYTES, before anything is
 * parsed: these readers take text from other parties (CSR objects, attestation peers' files).
 *
 * Problems are returned as data, not messages: each caller words them under its own error code
 * (ERR_INPUT naming a file, ERR_KUBE_API naming a CSR, …).
 */
import { X509Certificate } from 'node:crypto';
import { decodeStdBase64, maxBase64Length } from '../util/base64.js';
import { formatLimit, MAX_CERTIFICATE_DER_BYTES, MAX_PEM_BYTES } from './limits.js';

/** PEM as text, or as the bytes of a file or field (UTF-8), measured before it is decoded. */
export type PemInput = string | Uint8Array;

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
/** The whole input is larger than MAX_PEM_BYTES; nothing was parsed. */
export interface TooLarge {
  readonly kind: 'too-large';
  readonly size: number;
  readonly limit: number;
}
/** Certificate `certificate` (counting CERTIFICATE blocks only) is over MAX_CERTIFICATE_DER_BYTES. */
export interface CertificateTooLarge {
  readonly kind: 'certificate-too-large';
  readonly certificate: number;
  readonly limit: number;
}

export type SizeProblem = TooLarge | CertificateTooLarge;
export type StrictChainProblem =
  TextBefore | TextAfter | MismatchedEnd | NotCertificate | BadBase64 | NoCertificate | SizeProblem;
export type ChainProblem = MismatchedEnd | NotCertificate | Unparsable | NoCertificate | SizeProblem;
export type BundleProblem = MismatchedEnd | Unparsable | NoCertificate | SizeProblem;
export type BlocksProblem = MismatchedEnd | TooLarge;

/** The size problem in words, after the input's name: "is 5000000 bytes; the limit for PEM input is 4 MiB". */
export function sizeProblemText(p: SizeProblem): string {
  return p.kind === 'too-large'
    ? `is ${p.size} bytes; the limit for PEM input is ${formatLimit(p.limit)}`
    : `certificate #${p.certificate} is larger than the limit of ${formatLimit(p.limit)} of DER`;
}

/** TooLarge when `input` is over MAX_PEM_BYTES (UTF-8 bytes); for PEM handed to OpenSSL directly too. */
export function pemTooLarge(input: PemInput): TooLarge | undefined {
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
  return size > MAX_PEM_BYTES ? { kind: 'too-large', size, limit: MAX_PEM_BYTES } : undefined;
}

/** Thrown inside this module only, so a per-block check can stop the scan at once. */
class Stop extends Error {
  constructor(readonly problem: StrictChainProblem | ChainProblem | BlocksProblem) {
    super(problem.kind);
  }
}

const BEGIN = '-----BEGIN ';
const END = '-----END ';
const DASHES = '-----';
const CR = 0x0d;
const LF = 0x0a;

/** Label characters: A-Z, 0-9 and space. None is '-', so a label never overlaps a marker. */
function isLabelChar(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x20;
}

/** Where the run of label characters from `from` ends. */
function labelEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && isLabelChar(text.charCodeAt(i))) i++;
  return i;
}

interface Found {
  readonly begin: string;
  readonly end: string;
  readonly start: number;
  /** Just past the END marker's closing dashes. */
  readonly stop: number;
  readonly body: string;
}

/** The first END marker (`-----END <label>-----`) at or after `from`. */
function nextEndMarker(text: string, from: number): { at: number; label: string; stop: number } | undefined {
  for (let pos = from; ;) {
    const at = text.indexOf(END, pos);
    if (at < 0) return undefined;
    const labelStart = at + END.length;
    const labelStop = labelEnd(text, labelStart);
    if (labelStop > labelStart && text.startsWith(DASHES, labelStop))
      return { at, label: text.slice(labelStart, labelStop), stop: labelStop + DASHES.length };
    pos = labelStart;
  }
}

/**
 * The first block at or after `from`: a BEGIN line (`-----BEGIN <label>-----` then LF or CRLF)
 * closed by the first END marker after it. Linear overall: every search moves forward, labels
 * are scanned once (they cannot contain '-'), and once a BEGIN line finds no END marker after
 * it, no later one can, so the scan ends there instead of searching to the end again for each
 * BEGIN (which made 200 KiB of unterminated BEGIN lines cost a second).
 */
function nextBlock(text: string, from: number): Found | undefined {
  for (let pos = from; ;) {
    const start = text.indexOf(BEGIN, pos);
    if (start < 0) return undefined;
    const labelStart = start + BEGIN.length;
    const labelStop = labelEnd(text, labelStart);
    let bodyStart = -1;
    if (labelStop > labelStart && text.startsWith(DASHES, labelStop)) {
      let eol = labelStop + DASHES.length;
      if (text.charCodeAt(eol) === CR) eol++;
      if (text.charCodeAt(eol) === LF) bodyStart = eol + 1;
    }
    if (bodyStart < 0) {
      pos = labelStart; // not a BEGIN line
      continue;
    }
    const end = nextEndMarker(text, bodyStart);
    if (end === undefined) return undefined;
    return {
      begin: text.slice(labelStart, labelStop),
      end: end.label,
      start,
      stop: end.stop,
      body: text.slice(bodyStart, end.at),
    };
  }
}

/** The input as text, after the size check. */
function textOf(input: PemInput): string {
  const tooLarge = pemTooLarge(input);
  if (tooLarge !== undefined) throw new Stop(tooLarge);
  return typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
}

/**
 * Calls `each` for every block in order and stops at the first problem, so a bad block is
 * reported before a framing problem further on is even looked at. `strict` refuses text outside
 * the blocks.
 */
function scan(input: PemInput, strict: boolean, each: (block: PemBlock, n: number) => void): void {
  const text = textOf(input);
  let last = 0;
  let count = 0;
  for (let found = nextBlock(text, 0); found !== undefined; found = nextBlock(text, last)) {
    const { begin, end, start, stop, body } = found;
    count++;
    if (strict && text.slice(last, start).trim() !== '')
      throw new Stop({ kind: 'text-before', block: count });
    last = stop;
    if (begin !== end) throw new Stop({ kind: 'mismatched-end', block: count, begin, end });
    each({ label: begin, text: text.slice(start, stop), body }, count);
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
export function readPemBlocks(text: PemInput): PemResult<PemBlock[], BlocksProblem> {
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
export function decodeStrictPemCertificates(text: PemInput): PemResult<Buffer[], StrictChainProblem> {
  return run(() => {
    const ders: Buffer[] = [];
    scan(text, true, (block, n) => {
      if (block.label !== 'CERTIFICATE')
        throw new Stop({ kind: 'not-certificate', block: n, label: block.label });
      const base64 = block.body.replace(/\s+/g, '');
      if (base64.length > maxBase64Length(MAX_CERTIFICATE_DER_BYTES)) throw certificateTooLarge(n);
      const der = decodeStdBase64(base64);
      if (der === undefined || der.length === 0) throw new Stop({ kind: 'bad-base64', block: n });
      if (der.length > MAX_CERTIFICATE_DER_BYTES) throw certificateTooLarge(n);
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

const certificateTooLarge = (certificate: number): Stop =>
  new Stop({ kind: 'certificate-too-large', certificate, limit: MAX_CERTIFICATE_DER_BYTES });

/** Whether the body's base64 (RFC 1421 headers counted too) decodes to more than the DER limit. */
function bodyTooLarge(body: string): boolean {
  let digits = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c > 0x20 && c !== 0x3d) digits++; // not whitespace, not '=' padding
  }
  return Math.floor((digits * 3) / 4) > MAX_CERTIFICATE_DER_BYTES;
}

function parseCertificates(text: PemInput, otherBlocks: 'reject' | 'skip'): PemCertificate[] {
  const out: PemCertificate[] = [];
  scan(text, false, (block, n) => {
    if (block.label !== 'CERTIFICATE') {
      if (otherBlocks === 'skip') return;
      throw new Stop({ kind: 'not-certificate', block: n, label: block.label });
    }
    if (bodyTooLarge(block.body)) throw certificateTooLarge(out.length + 1);
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
export function parsePemChain(text: PemInput): PemResult<PemCertificate[], ChainProblem> {
  return run(() => parseCertificates(text, 'reject'));
}

/**
 * A CA bundle or a chain as a Kubernetes API hands it out: CERTIFICATE blocks, each parsed by
 * OpenSSL, at least one; other blocks and text around them are skipped, as Go's
 * AppendCertsFromPEM and client-go do.
 */
export function parsePemBundle(text: PemInput): PemResult<PemCertificate[], BundleProblem> {
  return run(() => parseCertificates(text, 'skip'));
}

/** One PEM block: base64 of `der` in 64-character lines between BEGIN/END `label` lines. */
export function encodePem(label: string, der: Uint8Array): string {
  const body = Buffer.from(der)
    .toString('base64')
    .replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

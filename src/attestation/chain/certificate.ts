/**
 * A read-only view of one certificate: node:crypto's X509Certificate for the key, signature and
 * validity, plus the fields Node 20 does not expose, read with the strict certificate reader
 * (src/x509/certificate-reader.ts: raw names, serial sign, signature OIDs, and for a canonical
 * certificate the subject attributes and extensions) or, for any other certificate, with
 * @peculiar/x509. Built once per certificate and cached, so trust bundles are parsed at
 * configure time only.
 *
 * @peculiar/x509 costs about 3 ms per certificate, which made it most of an attestation's cost:
 * certificates in the usual canonical shape take the fast path (fast-path.ts), which gives the
 * same fields and leaves everything else to @peculiar/x509 (see there).
 *
 * @peculiar/x509 is also loaded only once a certificate outside that fast path (or the text of a
 * name, for a message) needs it: evaluating it and its ASN.1 stack costs the server plugin ~8 MB
 * of resident memory for good. The readers are synchronous, so one that needs it before it is
 * loaded throws X509LibNotLoaded, and withCertificateReader() loads it and runs the whole
 * (side-effect free) operation again.
 */
import { hash, X509Certificate } from 'node:crypto';
import { AttestorError, type ErrorCode } from '../../errors.js';
import { readCertificateDer, type CertificateDer } from '../../x509/certificate-reader.js';
import { DerError } from '../../x509/der.js';
import { DECODED_EXTENSIONS, extensionFacts, type BasicConstraints } from '../../x509/extensions.js';
import { loadX509 } from '../../x509/load-peculiar.js';
import { ATTRIBUTE_TYPES, OID } from '../../x509/oids.js';
import type { X509Lib } from '../../x509/peculiar.js';
import { noteKeyAlgorithm } from '../key-details.js';
import type { CertificateFacts, ReadFields, SubjectAttribute } from './certificate-facts.js';
import { fastFields } from './fast-path.js';

export type { CertificateFacts, ReadFields, SubjectAttribute } from './certificate-facts.js';

/** keyUsage bits as @peculiar/x509's KeyUsageFlags numbers them (a test compares the two). */
export const KeyUsage = {
  digitalSignature: 1,
  nonRepudiation: 2,
  keyEncipherment: 4,
  dataEncipherment: 8,
  keyAgreement: 16,
  keyCertSign: 32,
  cRLSign: 64,
  encipherOnly: 128,
  decipherOnly: 256,
} as const;

let lib: X509Lib | undefined;

/** Thrown by a reader that needs @peculiar/x509 before it is loaded; see withCertificateReader. */
export class X509LibNotLoaded extends Error {
  override readonly name = 'X509LibNotLoaded';
}

function x509Lib(): X509Lib {
  if (lib === undefined)
    throw new X509LibNotLoaded('@peculiar/x509 is needed here; run this through withCertificateReader()');
  return lib;
}

/** Loads @peculiar/x509 for the readers here (they never load it themselves). */
export async function loadCertificateReader(): Promise<void> {
  lib ??= await loadX509();
}

/**
 * Runs `run` (synchronous, without side effects: it may run twice), loading @peculiar/x509 and
 * running it again if a certificate or a message needed the library.
 */
export async function withCertificateReader<T>(run: () => T): Promise<T> {
  if (lib === undefined) {
    try {
      return run();
    } catch (err) {
      if (!(err instanceof X509LibNotLoaded)) throw err;
    }
    await loadCertificateReader();
  }
  return run();
}

const cache = new WeakMap<X509Certificate, CertificateFacts>();

/**
 * Reads `input` (a parsed certificate or DER). `label` names it in errors ("certificate 0 (the
 * leaf)", "CA bundle certificate 2"); `code` is ERR_PAYLOAD for what an agent sent and
 * ERR_CONFIG for trust bundles.
 */
export function readCertificate(
  input: X509Certificate | Uint8Array,
  label: string,
  code: ErrorCode = 'ERR_PAYLOAD',
): CertificateFacts {
  if (input instanceof X509Certificate) {
    const cached = cache.get(input);
    if (cached !== undefined) return cached;
  }
  const fail = (problem: string, cause?: unknown): never => {
    throw new AttestorError(code, `${label} is not a usable X.509 certificate: ${problem}`, {
      cause,
    });
  };
  let cert: X509Certificate;
  const der = input instanceof X509Certificate ? input.raw : Buffer.from(input);
  try {
    cert = input instanceof X509Certificate ? input : new X509Certificate(der);
  } catch (err) {
    return fail((err as Error).message, err);
  }
  try {
    const facts = build(cert, der, fail);
    cache.set(cert, facts);
    return facts;
  } catch (err) {
    if (err instanceof X509LibNotLoaded) throw err;
    // A DerError is an AttestorError (ERR_INPUT) too; here it must take this caller's code and label.
    if (err instanceof DerError) return fail(err.problem, err);
    if (err instanceof AttestorError) throw err;
    return fail((err as Error).message, err);
  }
}

function build(cert: X509Certificate, der: Buffer, fail: (problem: string) => never): CertificateFacts {
  let spans: CertificateDer;
  try {
    spans = readCertificateDer(der);
  } catch (err) {
    if (err instanceof DerError) return fail(err.problem);
    throw err;
  }
  // OpenSSL ignores bytes after the certificate and re-encodes some BER; we want what was signed, exactly.
  if (!cert.raw.equals(der)) fail('not a single DER-encoded certificate');
  // Go rejects negative serials since 1.23; they are a sign of a broken or hostile issuer.
  if (((spans.serial[0] ?? 0) & 0x80) !== 0) fail('negative serial number');

  // Both readers give the same fields; the fast one answers only where that is certain.
  const fields: ReadFields = fastFields(der, spans, typedByPeculiar) ?? readWithPeculiar(der, fail);
  let subject = fields.subject;
  let issuer = fields.issuer;
  const notBefore = parseOpensslTime(cert.validFrom);
  if (notBefore === undefined) return fail(`unreadable notBefore ${cert.validFrom}`);
  const notAfter = parseOpensslTime(cert.validTo);
  if (notAfter === undefined) return fail(`unreadable notAfter ${cert.validTo}`);
  const publicKey = cert.publicKey;
  noteKeyAlgorithm(publicKey, spans.keyAlgorithm, spans.keyParameterOid);

  return Object.freeze({
    cert,
    der,
    // One-shot hash(): createHash('sha256') costs ~40 µs a call on Node 20 (vs ~2 µs).
    sha1: hash('sha1', der, 'hex'),
    sha256: hash('sha256', der, 'hex'),
    serialHex: serialHex(spans.serial),
    rawSubject: spans.rawSubject,
    rawIssuer: spans.rawIssuer,
    // Messages only: made on first use unless the reader had them anyway.
    get subject(): string {
      return (subject ??= nameText(spans.rawSubject));
    },
    get issuer(): string {
      return (issuer ??= nameText(spans.rawIssuer));
    },
    subjectRdns: fields.subjectRdns,
    notBefore,
    notAfter,
    signatureAlgorithm: spans.signatureAlgorithm,
    signatureParameters: spans.signatureParameters,
    signatureAlgorithmsMatch: spans.signatureAlgorithmsMatch,
    ...extensionFacts(fields),
    publicKey,
  });
}

/**
 * The reader for every certificate outside the fast path (fast-path.ts): @peculiar/x509.
 * Exported as the reference the fast path is tested against.
 */
export function readWithPeculiar(der: Buffer, fail: (problem: string) => never): ReadFields {
  const x509 = x509Lib();
  const parsed = new x509.X509Certificate(der);
  const seen = new Set<string>();
  const criticalExtensions: string[] = [];
  let basicConstraints: BasicConstraints | undefined;
  let keyUsage: number | undefined;
  let extKeyUsage: string[] | undefined;
  let hasSubjectAltName = false;
  let subjectKeyId: string | undefined;
  let authorityKeyId: string | undefined;
  for (const ext of parsed.extensions) {
    // RFC 5280 §4.2: an extension appears at most once; Go refuses duplicates at parse time.
    if (seen.has(ext.type)) fail(`duplicate extension ${ext.type}`);
    seen.add(ext.type);
    if (ext.critical) criticalExtensions.push(ext.type);
    if (ext instanceof x509.BasicConstraintsExtension)
      basicConstraints = { ca: ext.ca, pathLength: ext.pathLength };
    else if (ext instanceof x509.KeyUsagesExtension) keyUsage = ext.usages;
    else if (ext instanceof x509.ExtendedKeyUsageExtension) extKeyUsage = Array.from(ext.usages, String);
    else if (ext instanceof x509.SubjectAlternativeNameExtension) hasSubjectAltName = true;
    else if (ext instanceof x509.SubjectKeyIdentifierExtension) subjectKeyId = ext.keyId.toLowerCase();
    else if (ext instanceof x509.AuthorityKeyIdentifierExtension) authorityKeyId = ext.keyId?.toLowerCase();
    else if (ext.type === OID.subjectAltName) hasSubjectAltName = true;
    else if (DECODED_EXTENSIONS.has(ext.type)) fail(`cannot read extension ${ext.type}`);
  }

  const subjectRdns = parsed.subjectName
    .toJSON()
    .map((rdn) =>
      Object.entries(rdn).flatMap(([type, values]) =>
        values.map((value): SubjectAttribute => ({ type: ATTRIBUTE_TYPES[type] ?? type, value })),
      ),
    );
  return {
    subjectRdns,
    basicConstraints,
    keyUsage,
    extKeyUsage,
    hasSubjectAltName,
    subjectKeyId,
    authorityKeyId,
    criticalExtensions,
    subject: parsed.subject,
    issuer: parsed.issuer,
  };
}

/** @peculiar/x509's text of a Name, exactly as its X509Certificate.subject / .issuer give it. */
export function nameText(rawName: Buffer): string {
  return new (x509Lib().Name)(rawName).toString();
}

/**
 * Extension types whose values @peculiar/x509 parses (and may refuse); see fast-path.ts. Its
 * ExtensionFactory registry, written out so that deciding does not load the library; a test
 * compares the two, so an upgrade that types another extension fails it.
 */
export const PECULIAR_TYPED_EXTENSIONS: ReadonlySet<string> = new Set([
  '1.3.6.1.5.5.7.1.1', // authorityInfoAccess
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.15', // keyUsage
  '2.5.29.17', // subjectAltName
  '2.5.29.18', // issuerAltName
  '2.5.29.19', // basicConstraints
  '2.5.29.31', // cRLDistributionPoints
  '2.5.29.32', // certificatePolicies
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.37', // extKeyUsage
]);
export function typedByPeculiar(oid: string): boolean {
  return PECULIAR_TYPED_EXTENSIONS.has(oid);
}

/** Go's SerialNumberHex: minimal lowercase hex, padded to an even length. */
function serialHex(content: Buffer): string {
  let i = 0;
  while (i < content.length - 1 && content[i] === 0) i++;
  return Buffer.from(content.subarray(i)).toString('hex');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const OPENSSL_TIME = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))? (\d{4}) GMT$/;

/**
 * Parses node:crypto's validFrom/validTo (OpenSSL's ASN1_TIME_print form, "Nov  7 12:00:00 2026
 * GMT"); Node 20 has no validFromDate. Undefined when the text is not in that form.
 */
export function parseOpensslTime(text: string): Date | undefined {
  const m = OPENSSL_TIME.exec(text);
  if (m === null) return undefined;
  const [, monthName = '', day, hours, minutes, seconds, fraction = '', year] = m;
  const month = MONTHS.indexOf(monthName);
  if (month < 0) return undefined;
  const ms = Number(fraction.slice(0, 3).padEnd(3, '0'));
  const date = new Date(
    Date.UTC(Number(year), month, Number(day), Number(hours), Number(minutes), Number(seconds), ms),
  );
  // Date.UTC rolls over out-of-range fields (Feb 30 → Mar 2); a real certificate never needs that.
  if (date.getUTCDate() !== Number(day) || date.getUTCMonth() !== month) return undefined;
  return date;
}

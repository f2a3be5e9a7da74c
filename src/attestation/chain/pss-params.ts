/**
 * RSASSA-PSS signature parameters (RFC 4055 §3.1), held to the rule Go's crypto/x509 applies: a
 * SHA-256, SHA-384 or SHA-512 message hash, stated explicitly; MGF1 with that same hash; a salt
 * as long as the hash; the default trailer field. Every field left out means its SHA-1-era
 * default (hash SHA-1, MGF1 with SHA-1, a 20-byte salt), so an empty or missing parameter set is
 * SHA-1. A certificate outside this rule is one the API server (Go) refuses as a client
 * credential anyway, and SHA-1 signatures are forgeable by chosen-prefix collision.
 */
import { DerError, TAG, decodeOidContent, expectTag, onlyTlv, readTlv, type Tlv } from '../../x509/der.js';

interface Hash {
  readonly name: string;
  readonly bytes: number;
}

const HASHES: ReadonlyMap<string, Hash> = new Map([
  ['2.16.840.1.101.3.4.2.1', { name: 'SHA-256', bytes: 32 }],
  ['2.16.840.1.101.3.4.2.2', { name: 'SHA-384', bytes: 48 }],
  ['2.16.840.1.101.3.4.2.3', { name: 'SHA-512', bytes: 64 }],
]);
const REFUSED_HASH_NAMES: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'SHA-1',
  '2.16.840.1.101.3.4.2.4': 'SHA-224',
  '1.2.840.113549.2.5': 'MD5',
};
const MGF1 = '1.2.840.113549.1.1.8';
const NULL_TAG = 0x05;
/** The context tags [0] hashAlgorithm … [3] trailerField, constructed (explicit tagging). */
const FIELD_TAG = 0xa0;

const hashName = (oid: string): string => HASHES.get(oid)?.name ?? REFUSED_HASH_NAMES[oid] ?? oid;

const ALLOWED =
  'allowed is RSASSA-PSS with SHA-256, SHA-384 or SHA-512, MGF1 with the same hash and a salt of the hash length';

/**
 * Why RSASSA-PSS with `params` (the DER of the AlgorithmIdentifier's parameters element, or
 * undefined when there is none) is refused, or undefined when it is allowed. The text follows
 * "is signed with".
 */
export function pssParametersProblem(params: Uint8Array | undefined): string | undefined {
  if (params === undefined) return `RSASSA-PSS without parameters, which means SHA-1; ${ALLOWED}`;
  try {
    const problem = check(params);
    return problem === undefined ? undefined : `RSASSA-PSS ${problem}; ${ALLOWED}`;
  } catch (err) {
    if (err instanceof DerError) return `RSASSA-PSS with malformed parameters (${err.problem}); ${ALLOWED}`;
    throw err;
  }
}

function check(buf: Uint8Array): string | undefined {
  const seq = expectTag(readTlv(buf, 0, buf.length, 'RSASSA-PSS-params'), TAG.sequence, 'RSASSA-PSS-params');
  if (seq.end !== buf.length) throw new DerError('RSASSA-PSS-params: trailing bytes');
  const fields: (Tlv | undefined)[] = [];
  for (let pos = seq.start, last = -1; pos < seq.end;) {
    const field = readTlv(buf, pos, seq.end, 'RSASSA-PSS-params field');
    const n = field.tag - FIELD_TAG;
    if (n < 0 || n > 3 || n <= last) throw new DerError('RSASSA-PSS-params: unexpected or repeated field');
    fields[n] = field;
    last = n;
    pos = field.end;
  }
  const [hashField, mgfField, saltField, trailerField] = fields;

  if (hashField === undefined) return 'with SHA-1 (no hash algorithm given: the default)';
  const hashOid = hashAlgorithm(buf, onlyTlv(buf, hashField, 'hashAlgorithm'), 'hashAlgorithm');
  const hash = HASHES.get(hashOid);
  if (hash === undefined) return `with ${hashName(hashOid)}`;

  if (mgfField === undefined) return `with ${hash.name} but MGF1 with SHA-1 (the default mask generation)`;
  const mgf = expectTag(onlyTlv(buf, mgfField, 'maskGenAlgorithm'), TAG.sequence, 'maskGenAlgorithm');
  const mgfOid = expectTag(readTlv(buf, mgf.start, mgf.end, 'maskGenAlgorithm'), TAG.oid, 'maskGenAlgorithm');
  if (mgfOid.end === mgf.end) throw new DerError('maskGenAlgorithm: no MGF1 hash');
  const mgfName = decodeOidContent(buf.subarray(mgfOid.start, mgfOid.end));
  if (mgfName !== MGF1) return `with ${hash.name} but mask generation ${mgfName}, not MGF1`;
  const mgfHashTlv = readTlv(buf, mgfOid.end, mgf.end, 'MGF1 hash');
  if (mgfHashTlv.end !== mgf.end) throw new DerError('maskGenAlgorithm: trailing bytes');
  const mgfHash = hashAlgorithm(buf, mgfHashTlv, 'MGF1 hash');
  if (mgfHash !== hashOid) return `with ${hash.name} but MGF1 with ${hashName(mgfHash)}`;

  const salt =
    saltField === undefined ? 20 : smallInteger(buf, onlyTlv(buf, saltField, 'saltLength'), 'saltLength');
  if (salt !== hash.bytes) return `with ${hash.name} and a ${salt}-byte salt (not ${hash.bytes})`;
  if (
    trailerField !== undefined &&
    smallInteger(buf, onlyTlv(buf, trailerField, 'trailerField'), 'trailerField') !== 1
  )
    return `with ${hash.name} and a trailer field other than 1`;
  return undefined;
}

/** A hash AlgorithmIdentifier's OID; its parameters must be absent or NULL (RFC 4055 allows both). */
function hashAlgorithm(buf: Uint8Array, el: Tlv, what: string): string {
  const alg = expectTag(el, TAG.sequence, what);
  const oid = expectTag(readTlv(buf, alg.start, alg.end, what), TAG.oid, what);
  if (oid.end < alg.end) {
    const p = readTlv(buf, oid.end, alg.end, `${what} parameters`);
    if (p.tag !== NULL_TAG || p.end !== p.start || p.end !== alg.end)
      throw new DerError(`${what}: parameters other than NULL`);
  }
  return decodeOidContent(buf.subarray(oid.start, oid.end));
}

/** A non-negative INTEGER of at most 2 content bytes (salt lengths and trailer fields are small). */
function smallInteger(buf: Uint8Array, el: Tlv, what: string): number {
  const int = expectTag(el, TAG.integer, what);
  const length = int.end - int.start;
  if (length < 1 || length > 2 || ((buf[int.start] ?? 0) & 0x80) !== 0)
    throw new DerError(`${what}: not a small non-negative INTEGER`);
  let v = 0;
  for (let i = int.start; i < int.end; i++) v = v * 256 + (buf[i] ?? 0);
  return v;
}

/**
 * A tolerant parser for the HCL v1 that SPIRE sends as `ConfigureRequest.hcl_configuration`: the
 * `plugin_data` block re-printed by hashicorp/hcl v1's printer (items without the outer braces,
 * keys bare or quoted, blocks with labels), or the raw text of a `plugin_data_file`, which may
 * also be JSON. Hand-written because no maintained npm package parses HCL v1 (HCL2 parsers reject
 * its quoted keys) and the subset is small.
 *
 * Objects are plain objects whose keys are set with defineProperty, so a key such as
 * `__proto__` is data, never a prototype change.
 */
import { AttestorError } from '../../errors.js';

export type HclValue = string | number | boolean | readonly HclValue[] | HclObject;
export interface HclObject {
  readonly [key: string]: HclValue;
}

/** Deeper nesting is refused so hostile input cannot overflow the stack. */
const MAX_DEPTH = 64;

type TokenKind = 'ident' | 'string' | 'number' | 'punct' | 'eof';
interface Token {
  readonly kind: TokenKind;
  /** ident: the name; string: the decoded value; punct: the character; number: the source. */
  readonly text: string;
  readonly value?: number;
  readonly line: number;
  readonly col: number;
}

function configError(line: number, col: number, message: string): AttestorError {
  return new AttestorError('ERR_CONFIG', `invalid plugin configuration at ${line}:${col}: ${message}`, {
    details: { line, column: col },
  });
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of input';
    case 'string':
      return `string ${JSON.stringify(t.text)}`;
    case 'number':
      return `number ${t.text}`;
    case 'ident':
      return `"${t.text}"`;
    case 'punct':
      return `'${t.text}'`;
  }
}

const isIdentStart = (c: string): boolean => /[\p{L}_]/u.test(c);
const isIdentPart = (c: string): boolean => /[\p{L}\p{N}_.-]/u.test(c);

/** Turns the text into tokens; comments and whitespace (newlines included) are dropped. */
class Lexer {
  private pos = 0;
  private line = 1;
  private lineStart = 0;

  constructor(private readonly src: string) {
    if (src.startsWith('\uFEFF')) this.pos = 1;
  }

  private get col(): number {
    return this.pos - this.lineStart + 1;
  }

  private advance(n = 1): void {
    for (let i = 0; i < n; i++) {
      if (this.src[this.pos] === '\n') {
        this.line++;
        this.lineStart = this.pos + 1;
      }
      this.pos++;
    }
  }

  private skipTrivia(): void {
    for (;;) {
      const c = this.src[this.pos];
      if (c === undefined) return;
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
        this.advance();
      } else if (c === '#' || (c === '/' && this.src[this.pos + 1] === '/')) {
        while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.advance();
      } else if (c === '/' && this.src[this.pos + 1] === '*') {
        const line = this.line;
        const col = this.col;
        const end = this.src.indexOf('*/', this.pos + 2);
        if (end < 0) throw configError(line, col, 'unterminated /* comment');
        this.advance(end + 2 - this.pos);
      } else {
        return;
      }
    }
  }

  next(): Token {
    this.skipTrivia();
    const line = this.line;
    const col = this.col;
    const c = this.src[this.pos];
    if (c === undefined) return { kind: 'eof', text: '', line, col };
    if ('={}[],'.includes(c)) {
      this.advance();
      return { kind: 'punct', text: c, line, col };
    }
    if (c === '"') return this.string(line, col);
    if (c === '<' && this.src[this.pos + 1] === '<') {
      throw configError(line, col, 'heredoc strings (<<EOF) are not supported; use a quoted string with \\n');
    }
    if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(this.src[this.pos + 1] ?? '')))
      return this.number(line, col);
    if (isIdentStart(c)) {
      const start = this.pos;
      while (this.pos < this.src.length && isIdentPart(this.src[this.pos] ?? '')) this.advance();
      return { kind: 'ident', text: this.src.slice(start, this.pos), line, col };
    }
    throw configError(line, col, `unexpected character ${JSON.stringify(c)}`);
  }

  private number(line: number, col: number): Token {
    const start = this.pos;
    while (this.pos < this.src.length && /[0-9A-Za-z_.+-]/.test(this.src[this.pos] ?? '')) {
      const ch = this.src[this.pos] ?? '';
      // A sign is part of a number only right after an exponent marker.
      if ((ch === '+' || ch === '-') && this.pos > start && !/[eE]/.test(this.src[this.pos - 1] ?? '')) break;
      this.advance();
    }
    const text = this.src.slice(start, this.pos);
    const value = parseHclNumber(text);
    if (value === undefined) {
      // Escaped (µ, μ): one character above U+00FF makes V8 hold a whole bundle as two-byte text.
      const hint = /^-?[0-9.]+[a-z\u00b5\u03bc]+$/i.test(text)
        ? ' (durations are strings: quote them, e.g. "10m")'
        : '';
      throw configError(line, col, `invalid number ${JSON.stringify(text)}${hint}`);
    }
    return { kind: 'number', text, value, line, col };
  }

  private string(line: number, col: number): Token {
    this.advance(); // opening quote
    let out = '';
    // HCL v1 keeps "${...}" interpolations verbatim, and quotes inside them do not end the string.
    let braces = 0;
    for (;;) {
      const c = this.src[this.pos];
      if (c === undefined || c === '\n') throw configError(line, col, 'unterminated string');
      if (c === '"' && braces === 0) {
        this.advance();
        return { kind: 'string', text: out, line, col };
      }
      if (c === '\\') {
        out += this.escape();
        continue;
      }
      if (c === '$' && this.src[this.pos + 1] === '{') {
        braces++;
        out += '${';
        this.advance(2);
        continue;
      }
      if (c === '}' && braces > 0) braces--;
      out += c;
      this.advance();
    }
  }

  private escape(): string {
    const line = this.line;
    const col = this.col;
    const c = this.src[this.pos + 1];
    const simple: Readonly<Record<string, string>> = {
      n: '\n',
      t: '\t',
      r: '\r',
      a: '\x07',
      b: '\b',
      f: '\f',
      v: '\v',
      '\\': '\\',
      '"': '"',
    };
    if (c !== undefined && Object.hasOwn(simple, c)) {
      this.advance(2);
      return simple[c] ?? '';
    }
    const hexLen = c === 'x' ? 2 : c === 'u' ? 4 : c === 'U' ? 8 : 0;
    if (hexLen > 0) {
      const hex = this.src.slice(this.pos + 2, this.pos + 2 + hexLen);
      const cp = /^[0-9a-fA-F]+$/.test(hex) && hex.length === hexLen ? Number.parseInt(hex, 16) : NaN;
      if (Number.isNaN(cp) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        throw configError(
          line,
          col,
          `invalid escape \\${c ?? ''}${hex}: expected ${hexLen} hex digits of a code point`,
        );
      }
      this.advance(2 + hexLen);
      return String.fromCodePoint(cp);
    }
    if (c !== undefined && /[0-7]/.test(c)) {
      const oct = this.src.slice(this.pos + 1, this.pos + 4);
      if (!/^[0-7]{3}$/.test(oct) || Number.parseInt(oct, 8) > 0xff) {
        throw configError(line, col, `invalid octal escape \\${oct}: expected three octal digits`);
      }
      this.advance(4);
      return String.fromCharCode(Number.parseInt(oct, 8));
    }
    throw configError(line, col, `invalid escape \\${c ?? ''} in string`);
  }
}

/** HCL v1 numbers: decimal, 0x hex, leading-0 octal, and floats with fraction and/or exponent. */
function parseHclNumber(text: string): number | undefined {
  const neg = text.startsWith('-');
  const body = neg ? text.slice(1) : text;
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(body)) v = Number.parseInt(body.slice(2), 16);
  else if (/^0[0-7]+$/.test(body)) v = Number.parseInt(body.slice(1), 8);
  else if (/^(0|[1-9][0-9]*)$/.test(body)) v = Number.parseInt(body, 10);
  else if (/^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(body) && /[.eE]/.test(body)) {
    v = Number.parseFloat(body);
    // 0 - v rather than -v: "-0" must read as 0, not as the distinct value -0.
    return Number.isFinite(v) ? (neg ? 0 - v : v) : undefined;
  } else return undefined;
  return Number.isSafeInteger(v) ? (neg ? 0 - v : v) : undefined;
}

function setOwn(obj: Record<string, HclValue>, key: string, value: HclValue): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

const isObject = (v: HclValue | undefined): v is Record<string, HclValue> =>
  typeof v === 'object' && !Array.isArray(v);

/**
 * Renders a key path for messages: identifier segments bare, others quoted, list indexes
 * (segments like "[0]") appended as they are: clusters."a b".paths[0].
 */
export function formatKeyPath(path: readonly string[]): string {
  let out = '';
  for (const k of path) {
    if (/^\[\d+\]$/.test(k)) out += k;
    else out += (out === '' ? '' : '.') + (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? k : JSON.stringify(k));
  }
  return out;
}

class Parser {
  private tok: Token;
  private readonly lexer: Lexer;

  constructor(src: string) {
    this.lexer = new Lexer(src);
    this.tok = this.lexer.next();
  }

  private take(): Token {
    const t = this.tok;
    this.tok = this.lexer.next();
    return t;
  }

  private isPunct(c: string): boolean {
    return this.tok.kind === 'punct' && this.tok.text === c;
  }

  private fail(expected: string): never {
    throw configError(this.tok.line, this.tok.col, `expected ${expected}, found ${describe(this.tok)}`);
  }

  /** The whole input: items up to end of input. */
  document(): HclObject {
    const out: Record<string, HclValue> = {};
    if (this.tok.kind !== 'eof' && this.tok.kind !== 'ident' && this.tok.kind !== 'string') {
      this.fail('a key (the configuration must be "key = value" items)');
    }
    this.items(out, [], 0, 'eof');
    return out;
  }

  private items(
    out: Record<string, HclValue>,
    path: readonly string[],
    depth: number,
    end: 'eof' | '}',
  ): void {
    for (;;) {
      if (end === 'eof' ? this.tok.kind === 'eof' : this.isPunct('}')) return;
      if (this.isPunct(',')) {
        this.take();
        continue;
      }
      this.item(out, path, depth);
    }
  }

  private key(): Token {
    if (this.tok.kind === 'ident' || this.tok.kind === 'string') return this.take();
    return this.fail('a key');
  }

  private item(out: Record<string, HclValue>, path: readonly string[], depth: number): void {
    const keyTok = this.key();
    const labels: Token[] = [];
    while (this.tok.kind === 'string' || this.tok.kind === 'ident') labels.push(this.take());
    let value: HclValue;
    if (labels.length === 0 && this.isPunct('=')) {
      this.take();
      value = this.value(path.concat(keyTok.text), depth + 1);
    } else if (this.isPunct('{')) {
      // key "l1" "l2" { ... } is key = { "l1" = { "l2" = { ... } } }
      value = this.object(path.concat(keyTok.text, ...labels.map((l) => l.text)), depth + 1 + labels.length);
      for (let i = labels.length - 1; i >= 0; i--) {
        const wrap: Record<string, HclValue> = {};
        setOwn(wrap, labels[i]?.text ?? '', value);
        value = wrap;
      }
    } else if (labels.length > 0) {
      return this.fail(`'{' to open the block ${formatKeyPath(path.concat(keyTok.text))}`);
    } else if (keyTok.kind === 'string' && this.tok.kind === 'eof' && path.length === 0) {
      // What SPIRE prints for `plugin_data = "text"`.
      return this.fail(
        `'=' after ${JSON.stringify(keyTok.text)}: plugin_data must hold key = value items, not a bare string`,
      );
    } else {
      return this.fail(`'=' or '{' after key ${JSON.stringify(keyTok.text)}`);
    }
    assign(out, keyTok.text, value, path, keyTok);
  }

  private object(path: readonly string[], depth: number): HclObject {
    if (depth > MAX_DEPTH) this.fail(`at most ${MAX_DEPTH} levels of nesting`);
    this.take(); // '{'
    const out: Record<string, HclValue> = {};
    this.items(out, path, depth, '}');
    this.take(); // '}'
    return out;
  }

  private value(path: readonly string[], depth: number): HclValue {
    const t = this.tok;
    if (t.kind === 'string') return this.take().text;
    if (t.kind === 'number') return this.take().value ?? 0;
    if (t.kind === 'ident' && (t.text === 'true' || t.text === 'false')) return this.take().text === 'true';
    if (this.isPunct('{')) return this.object(path, depth);
    if (this.isPunct('[')) return this.list(path, depth);
    if (t.kind === 'ident') {
      throw configError(
        t.line,
        t.col,
        `expected a value for ${formatKeyPath(path)}, found "${t.text}" (quote strings)`,
      );
    }
    return this.fail(`a value for ${formatKeyPath(path)}`);
  }

  private list(path: readonly string[], depth: number): HclValue[] {
    if (depth > MAX_DEPTH) this.fail(`at most ${MAX_DEPTH} levels of nesting`);
    this.take(); // '['
    const out: HclValue[] = [];
    for (;;) {
      if (this.isPunct(']')) {
        this.take();
        return out;
      }
      out.push(this.value(path.concat(`[${out.length}]`), depth + 1));
      if (this.isPunct(',')) this.take();
      else if (!this.isPunct(']')) this.fail(`',' or ']' in the list ${formatKeyPath(path)}`);
    }
  }
}

/** Adds key=value to out; objects under the same key merge, any other repeat is an error. */
function assign(
  out: Record<string, HclValue>,
  key: string,
  value: HclValue,
  path: readonly string[],
  at: Token,
): void {
  if (!Object.hasOwn(out, key)) {
    setOwn(out, key, value);
    return;
  }
  const existing = out[key];
  if (isObject(existing) && isObject(value)) {
    for (const [k, v] of Object.entries(value)) assign(existing, k, v, path.concat(key), at);
    return;
  }
  throw configError(at.line, at.col, `duplicate key ${formatKeyPath(path.concat(key))}`);
}

/** Parses HCL v1 text. Empty input gives an empty object. */
export function parseHcl(text: string): HclObject {
  return new Parser(text).document();
}

function fromJson(v: unknown, path: readonly string[]): HclValue {
  if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') return v;
  const where = formatKeyPath(path);
  if (path.length > MAX_DEPTH) {
    throw new AttestorError(
      'ERR_CONFIG',
      `invalid plugin configuration: more than ${MAX_DEPTH} levels of nesting`,
    );
  }
  if (Array.isArray(v)) return v.map((e: unknown, i) => fromJson(e, path.concat(`[${i}]`)));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, HclValue> = {};
    for (const [k, e] of Object.entries(v)) setOwn(out, k, fromJson(e, path.concat(k)));
    return out;
  }
  throw new AttestorError(
    'ERR_CONFIG',
    `invalid plugin configuration: ${where} is null; omit the key instead`,
    {
      details: { key: where },
    },
  );
}

function jsonErrorPosition(text: string, err: unknown): { line: number; col: number } {
  const m = err instanceof Error ? /position (\d+)/.exec(err.message) : null;
  const pos = m?.[1] === undefined ? text.length : Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  return { line, col: pos - before.lastIndexOf('\n') };
}

/**
 * Parses plugin configuration text: JSON when it is a JSON object (a JSON plugin_data_file),
 * HCL v1 otherwise. All errors are AttestorError ERR_CONFIG with line:column.
 */
export function parseConfigText(text: string): HclObject {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    // Top-level braces are not valid in the HCL SPIRE prints, so this can only be JSON.
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      const { line, col } = jsonErrorPosition(text, err);
      const reason =
        err instanceof Error ? err.message.replace(/ in JSON at position.*$/s, '') : 'syntax error';
      throw configError(line, col, `invalid JSON: ${reason}`);
    }
    const value = fromJson(parsed, []);
    if (!isObject(value)) throw configError(1, 1, 'expected a JSON object');
    return value;
  }
  return parseHcl(text);
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AttestorError, isAttestorError } from '../../../../src/errors.js';
import {
  formatKeyPath,
  parseConfigText,
  parseHcl,
  type HclObject,
  type HclValue,
} from '../../../../src/spire/host/hcl.js';

function configError(fn: () => unknown): AttestorError {
  try {
    fn();
  } catch (err) {
    assert.ok(isAttestorError(err, 'ERR_CONFIG'), `expected ERR_CONFIG, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an ERR_CONFIG error');
}

/**
 * hcl_configuration exactly as SPIRE v1.13.3 produces it: these strings were printed by
 * hashicorp/hcl v1.0.1-vault-7's printer from plugin_data blocks decoded the way SPIRE's
 * catalog decodes them (a small Go program run once; its output pasted here).
 */
const PRINTED_BY_SPIRE: readonly { name: string; text: string; want: HclObject }[] = [
  { name: 'scalars', text: 'a = "x"\n\nbbbbbb = 10\n\nc = true', want: { a: 'x', bbbbbb: 10, c: true } },
  {
    name: 'labelled blocks, aligned',
    text: 'clusters "a" {\n  ca_bundle_path = "/x"\n}\n\nclusters "b" {\n  ca_bundle_path          = "/y"\n  allowed_node_label_keys = ["k1"]\n}\n\ntrust_domain_override = "z"',
    want: {
      clusters: { a: { ca_bundle_path: '/x' }, b: { ca_bundle_path: '/y', allowed_node_label_keys: ['k1'] } },
      trust_domain_override: 'z',
    },
  },
  {
    name: 'comments',
    text: '# hash comment\na = 1 // trailing slash comment\n\n/* block\n         comment */\nb = 2',
    want: { a: 1, b: 2 },
  },
  {
    name: 'numbers',
    text: 'f = 1.5\n\ne = 1e3\n\nn = -42\n\nh = 0x1F\n\no = 0755',
    want: { f: 1.5, e: 1000, n: -42, h: 31, o: 493 },
  },
  {
    name: 'a JSON config file (keys stay quoted)',
    text: '"a" = "x"\n\n"n" = 5\n\n"clusters" "c1" {\n  "ca_bundle_path" = "/p"\n}\n\n"l" = ["a", "b"]\n\n"b" = false',
    want: { a: 'x', n: 5, clusters: { c1: { ca_bundle_path: '/p' } }, l: ['a', 'b'], b: false },
  },
  {
    name: 'list of objects',
    text: 'items = [\n  {\n    a = 1\n  },\n  {\n    b = 2\n  },\n]',
    want: { items: [{ a: 1 }, { b: 2 }] },
  },
  {
    name: 'lists',
    text: 'list = ["p", "q"]\n\nmulti = [\n  "one",\n  "two",\n]\n\nnums = [1, 2.5, -3]\n\nempty = []',
    want: { list: ['p', 'q'], multi: ['one', 'two'], nums: [1, 2.5, -3], empty: [] },
  },
  {
    name: 'nested blocks',
    text: 'outer {\n  inner {\n    x = 1\n  }\n\n  y = "z"\n}',
    want: { outer: { inner: { x: 1 }, y: 'z' } },
  },
  {
    name: 'objects with =',
    text: 'clusters = {\n  a = {\n    ca_bundle_path = "/x"\n  }\n}\n\nmap = {\n  "quoted key" = "v"\n\n  other = 2\n}',
    want: { clusters: { a: { ca_bundle_path: '/x' } }, map: { 'quoted key': 'v', other: 2 } },
  },
  {
    name: 'quoted keys and escapes',
    text: '"foo" = "bar"\n\n"with space" = "esc \\"q\\" \\\\ \\n \\t é \\u00e9"',
    want: { foo: 'bar', 'with space': 'esc "q" \\ \n \t é é' },
  },
  {
    name: 'repeated block, same label',
    text: 'c "a" {\n  x = 1\n}\n\nc "a" {\n  y = 2\n}',
    want: { c: { a: { x: 1, y: 2 } } },
  },
  { name: 'two labels', text: 'outer "l1" "l2" {\n  v = 1\n}', want: { outer: { l1: { l2: { v: 1 } } } } },
  { name: 'empty plugin_data', text: '', want: {} },
];

describe('parseHcl: text as SPIRE prints it', () => {
  for (const c of PRINTED_BY_SPIRE) {
    it(c.name, () => {
      assert.deepEqual(parseConfigText(c.text), c.want);
    });
  }

  it('refuses what SPIRE prints for plugin_data = "DATA", saying why', () => {
    const e = configError(() => parseHcl('"DATA"'));
    assert.match(e.message, /1:7: .*not a bare string/);
  });

  it('refuses duplicated keys, naming them', () => {
    assert.match(configError(() => parseHcl('a = 1\n\na = 2')).message, /3:1: duplicate key a$/);
    assert.match(
      configError(() => parseHcl('c "x" { k = 1 }\nc "x" { k = 2 }')).message,
      /duplicate key c\.x\.k/,
    );
    assert.match(configError(() => parseHcl('l = [1]\nl = [2]')).message, /duplicate key l/);
  });

  it('says heredocs are not supported', () => {
    assert.match(
      configError(() => parseHcl('text = <<EOT\nhello\nEOT')).message,
      /1:8: heredoc .* not supported/,
    );
  });
});

describe('parseHcl: syntax', () => {
  it('takes commas or nothing between items, and trailing commas', () => {
    assert.deepEqual(parseHcl('a = 1, b = "2",'), { a: 1, b: '2' });
    assert.deepEqual(parseHcl('o { a = 1, b = 2 } p = { c = [1,2,], }'), {
      o: { a: 1, b: 2 },
      p: { c: [1, 2] },
    });
  });

  it('equates block syntax with labels and nested objects', () => {
    assert.deepEqual(
      parseHcl('clusters "a" { ca_bundle_path = "/x" }'),
      parseHcl('clusters = { "a" = { ca_bundle_path = "/x" } }'),
    );
    assert.deepEqual(parseHcl('k label { v = true }'), { k: { label: { v: true } } });
  });

  it('merges repeated blocks with distinct labels', () => {
    assert.deepEqual(parseHcl('c "a" { x = 1 }\nc "b" { x = 2 }\nc = { "d" = {} }'), {
      c: { a: { x: 1 }, b: { x: 2 }, d: {} },
    });
  });

  it('decodes string escapes', () => {
    assert.deepEqual(parseHcl(String.raw`s = "\"\\\n\t\r\u00e9\U0001F600\x41\101\a\b\f\v"`), {
      s: '"\\\n\t\ré\u{1F600}AA\x07\b\f\v',
    });
    assert.deepEqual(parseHcl('s = "${var.x("y")}"'), { s: '${var.x("y")}' });
  });

  it('reads numbers like HCL v1', () => {
    assert.deepEqual(parseHcl('a = 0\nb = -0\nc = 1.25e2\nd = 2E-1\ne = 0x10\nf = 010\ng = -7\nh = 0.5'), {
      a: 0,
      b: 0,
      c: 125,
      d: 0.2,
      e: 16,
      f: 8,
      g: -7,
      h: 0.5,
    });
    assert.ok(!Object.is(parseHcl('b = -0').b, -0));
  });

  it('keeps keys like __proto__ as data', () => {
    const v = parseHcl('__proto__ = { polluted = true }\nconstructor = 1');
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.deepEqual(Object.keys(v), ['__proto__', 'constructor']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('accepts identifiers with dots, dashes and digits, a BOM and CRLF', () => {
    assert.deepEqual(parseHcl('\uFEFFa.b-c_1 = 1\r\nx = 2\r\n'), { 'a.b-c_1': 1, x: 2 });
  });

  const bad: readonly [string, RegExp][] = [
    ['a', /1:2: expected '=' or '\{' after key "a", found end of input/],
    ['a = ', /1:5: expected a value for a, found end of input/],
    ['a = foo', /1:5: expected a value for a, found "foo"/],
    ['a = 10m', /1:5: invalid number "10m" \(durations are strings/],
    ['a = 0159', /invalid number "0159"/],
    ['a = 99999999999999999999', /invalid number/],
    ['a = 1.2.3', /invalid number/],
    ['a = "x', /1:5: unterminated string/],
    ['a = "x\ny"', /1:5: unterminated string/],
    ['a = "\\q"', /invalid escape \\q/],
    ['a = "\\uD800"', /invalid escape \\uD800/],
    ['a = "\\u12"', /invalid escape/],
    ['a = "\\777"', /invalid octal escape/],
    ['/* open', /1:1: unterminated \/\* comment/],
    ['a = [1 2]', /1:8: expected ',' or '\]' in the list a, found number 2/],
    ['a = {', /expected a key, found end of input/],
    ['= 1', /1:1: expected a key/],
    ['a b = 1', /expected '\{' to open the block a, found '='/],
    ['}', /1:1: expected a key/],
    ['a = 1 }', /1:7: expected a key, found '\}'/],
    ['a = @', /1:5: unexpected character "@"/],
    ['x {\n  y = [\n', /3:1: expected a value for x\.y\[0\], found end of input/],
  ];
  for (const [text, re] of bad) {
    it(`refuses ${JSON.stringify(text)} with line:column and what was expected`, () => {
      const e = configError(() => parseHcl(text));
      assert.match(e.message, /^invalid plugin configuration at \d+:\d+: /);
      assert.match(e.message, re);
      assert.equal(typeof e.details.line, 'number');
    });
  }

  it('refuses nesting deeper than 64 levels', () => {
    assert.match(configError(() => parseHcl(`a = ${'['.repeat(100_000)}`)).message, /levels of nesting/);
    assert.match(configError(() => parseHcl(`a = ${'{ b = '.repeat(1000)}`)).message, /levels of nesting/);
    assert.match(configError(() => parseHcl(`a ${'"l" '.repeat(1000)}{}`)).message, /levels of nesting/);
  });
});

describe('parseConfigText: JSON', () => {
  it('takes a JSON object (a plugin_data_file)', () => {
    assert.deepEqual(parseConfigText(' {"a": 1, "l": ["x"], "o": {"__proto__": true}}'), {
      a: 1,
      l: ['x'],
      o: JSON.parse('{"__proto__": true}') as HclObject,
    });
  });

  it('reports JSON syntax errors as ERR_CONFIG with a position', () => {
    assert.match(
      configError(() => parseConfigText('{"a": }')).message,
      /^invalid plugin configuration at 1:\d+: invalid JSON/,
    );
    assert.match(configError(() => parseConfigText('{\n"a": 1,\n')).message, /invalid JSON/);
  });

  it('refuses null values and non-object JSON, naming the key', () => {
    assert.match(configError(() => parseConfigText('{"a": {"b": [null]}}')).message, /a\.b\[0\] is null/);
    assert.match(
      configError(() => parseConfigText(`${'{"a":'.repeat(200)}1${'}'.repeat(200)}`)).message,
      /nesting/,
    );
  });
});

describe('formatKeyPath', () => {
  it('quotes what is not an identifier and appends indexes', () => {
    assert.equal(formatKeyPath(['clusters', 'a b', 'paths', '[2]']), 'clusters."a b".paths[2]');
  });
});

// ---- Property tests -------------------------------------------------------------------------

// "${" would open an HCL v1 interpolation, in which quotes do not end the string.
const noInterpolation = (s: string): boolean => !s.includes('${');
const identKey = fc.stringMatching(/^[a-z_][a-z0-9_-]{0,8}$/);
const anyKey = fc.oneof(identKey, fc.string({ maxLength: 8 }).filter(noInterpolation));
const str = fc.string({ unit: 'grapheme-composite', maxLength: 12 }).filter(noInterpolation);
const num = fc.oneof(
  fc.integer({ min: -1e15, max: 1e15 }),
  fc
    .double({ noNaN: true, noDefaultInfinity: true })
    .filter((d) => Number.isSafeInteger(d) || !Number.isInteger(d))
    // -0 prints as "0" in every config format.
    .map((d) => (d === 0 ? 0 : d)),
);
const scalar: fc.Arbitrary<HclValue> = fc.oneof(str, num, fc.boolean());

const { config } = fc.letrec<{ config: HclObject; value: HclValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(scalar, { maxLength: 3 }),
    tie('config'),
  ),
  config: fc.dictionary(anyKey, tie('value'), { maxKeys: 4, noNullPrototype: true }),
}));

function hclString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

type Style = 'canonical' | 'blocks' | 'compact';

function key(k: string, style: Style): string {
  return style !== 'compact' && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) && k !== 'true' && k !== 'false'
    ? k
    : hclString(k);
}

function printValue(v: HclValue, style: Style, indent: string): string {
  if (typeof v === 'string') return hclString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    const items = (v as readonly HclValue[]).map((e) => printValue(e, style, indent));
    return style === 'compact'
      ? `[${items.join(',')}]`
      : `[\n${items.map((i) => `${indent}  ${i},\n`).join('')}${indent}]`;
  }
  const body = printItems(v as HclObject, style, `${indent}  `);
  return style === 'compact' ? `{${body}}` : `{\n${body}${indent}}`;
}

const isObj = (v: HclValue | undefined): v is HclObject => typeof v === 'object' && !Array.isArray(v);

function printItems(obj: HclObject, style: Style, indent: string): string {
  let out = '';
  for (const [k, v] of Object.entries(obj)) {
    if (style === 'compact') {
      out += `${key(k, style)}=${printValue(v, style, indent)},`;
    } else if (style === 'blocks' && isObj(v) && Object.keys(v).length > 0 && Object.values(v).every(isObj)) {
      // An object of objects becomes one labelled block per entry: k "label" { ... }
      for (const [label, inner] of Object.entries(v)) {
        out += `${indent}# block ${k}\n${indent}${key(k, style)} ${hclString(label)} ${printValue(inner, style, indent)}\n\n`;
      }
    } else if (style === 'blocks' && isObj(v)) {
      out += `${indent}${key(k, style)} ${printValue(v, style, indent)} // block\n`;
    } else {
      out += `${indent}${key(k, style)} = ${printValue(v, style, indent)}\n`;
    }
  }
  return out;
}

function onlyConfigErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!isAttestorError(err, 'ERR_CONFIG')) throw err;
    assert.match(err.message, /^invalid plugin configuration/);
  }
}

describe('parseConfigText properties', () => {
  for (const style of ['canonical', 'blocks', 'compact'] as const) {
    it(`round-trips generated configs printed in ${style} style`, () => {
      fc.assert(
        fc.property(config, (cfg) => {
          assert.deepEqual(parseConfigText(printItems(cfg, style, '')), cfg);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('round-trips generated configs as JSON', () => {
    fc.assert(
      fc.property(config, (cfg) => {
        assert.deepEqual(parseConfigText(JSON.stringify(cfg, null, 1)), cfg);
      }),
      { numRuns: 200 },
    );
  });

  it('fails only with ERR_CONFIG on any truncation of a valid config', () => {
    fc.assert(
      fc.property(
        config,
        fc.constantFrom<Style>('canonical', 'blocks', 'compact'),
        fc.nat(),
        (cfg, style, cut) => {
          const text = printItems(cfg, style, '');
          onlyConfigErrors(() => parseConfigText(text.slice(0, cut % (text.length + 1))));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('fails only with ERR_CONFIG on random input', () => {
    const tokenish = fc.constantFrom(
      'a',
      ' ',
      '\n',
      '=',
      '{',
      '}',
      '[',
      ']',
      ',',
      '"',
      '\\',
      '#',
      '//',
      '/*',
      '*/',
      '<<',
      '1',
      '-',
      '.',
      'e',
      'x',
      '0x',
      'true',
      '${',
      'é',
      '\u0000',
      '\uD800',
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: tokenish, maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 })),
        (text) => {
          onlyConfigErrors(() => parseConfigText(text));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

/**
 * Every message the CLI can print is in docs/cli.md's troubleshooting section (the approver's in
 * docs/approver.md, the signer's in docs/pod-certificates.md): the messages are collected from the code the command loads — every
 * AttestorError and usage error built from a literal, by its longest fixed part — so a new
 * message cannot ship undocumented.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The source files `entry` loads, statically or on demand, within src/. */
function reachable(entry: string, stopAt: readonly string[] = []): Set<string> {
  const seen = new Set<string>();
  const todo = [resolve(ROOT, entry)];
  while (todo.length > 0) {
    const file = todo.pop() ?? '';
    if (seen.has(file) || stopAt.some((s) => file.startsWith(resolve(ROOT, s)))) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s*|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)) {
      const target = resolve(dirname(file), (m[1] ?? '').replace(/\.js$/, '.ts'));
      if (target.startsWith(join(ROOT, 'src')) && existsSync(target) && !target.includes('/gen/'))
        todo.push(target);
    }
  }
  return seen;
}

interface Message {
  readonly file: string;
  readonly line: number;
  readonly text: string;
  /** The longest fixed part of the message: what a user can search the docs for. */
  readonly key: string;
}

// Interpolations first: they may hold a nested template literal (one level deep).
const LITERAL = String.raw`('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\`(?:\$\{(?:[^{}]|\{[^{}]*\})*\}|[^\`\\]|\\.)*\`)`;
const SITES = [
  new RegExp(String.raw`new AttestorError\(\s*'ERR_[A-Z_]+',\s*${LITERAL}`, 'g'),
  new RegExp(String.raw`\busage\(\s*${LITERAL}`, 'g'),
];

function keyOf(literal: string): string {
  const body = literal.slice(1, -1);
  const parts = literal.startsWith('`') ? body.split(/\$\{(?:[^{}]|\{[^{}]*\})*\}/) : [body];
  const cleaned = parts.map((p) =>
    p
      .replaceAll(/\\(.)/g, '$1')
      .trim()
      .replace(/^[;:,.()\s]+|[;:,.(\s]+$/g, ''),
  );
  return cleaned.reduce((a, b) => (b.length > a.length ? b : a), '');
}

function messagesOf(files: Iterable<string>): Message[] {
  const out: Message[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const re of SITES) {
      for (const m of text.matchAll(re)) {
        const literal = m[1] ?? '';
        out.push({
          file: relative(ROOT, file),
          line: text.slice(0, m.index).split('\n').length,
          text: literal,
          key: keyOf(literal),
        });
      }
    }
  }
  return out;
}

const normalize = (s: string): string => s.replaceAll('`', '').replaceAll(/\s+/g, ' ');

function troubleshooting(doc: string): string {
  const text = readFileSync(join(ROOT, doc), 'utf8');
  const at = text.indexOf('## Troubleshooting');
  assert.ok(at >= 0, `${doc} has a Troubleshooting section`);
  const end = text.indexOf('\n## ', at + 1);
  return normalize(text.slice(at, end < 0 ? undefined : end));
}

describe('every message the CLI can print is documented', () => {
  const approver = reachable('src/cli/approver/command.ts');
  const signer = reachable('src/cli/signer/command.ts');
  const cli = reachable('src/bin/node-attestor.ts', [
    'src/cli/approver/',
    'src/approver/',
    'src/cli/signer/',
    'src/signer/',
  ]);
  for (const [doc, files] of [
    ['docs/cli.md', cli],
    ['docs/approver.md', new Set([...approver].filter((f) => !cli.has(f)))],
    ['docs/pod-certificates.md', new Set([...signer].filter((f) => !cli.has(f)))],
  ] as const) {
    it(`in ${doc}`, () => {
      const docs = troubleshooting(doc);
      const messages = messagesOf(files);
      assert.ok(messages.length > 10, `found ${String(messages.length)} messages: the collector works`);
      if (doc === 'docs/cli.md')
        assert.ok(
          messages.some((m) => m.key === 'unknown flag'),
          'the collector reads template literals (unknown flag ${shown})',
        );
      const missing = messages.filter((m) => m.key.length >= 6 && !docs.includes(normalize(m.key)));
      assert.deepEqual(
        missing.map((m) => `${m.file}:${String(m.line)}: ${m.key}`),
        [],
        `messages missing from ${doc}'s troubleshooting section`,
      );
    });
  }
});

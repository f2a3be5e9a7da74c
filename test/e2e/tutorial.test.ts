/**
 * docs/tutorial.md, run as written: every `sh` block in order (but those marked "not run by the
 * suite") in one bash, and the `hcl` blocks as the files the text names, on a real control plane
 * laid out like minikube — a home with ~/.minikube/{ca.crt,ca.key,apiserver.crt} and
 * ~/.kube/config, a Node named "minikube" — with real spire-server and spire-agent. Only
 * /home/me, /opt/node-attestor, the SPIRE server port and the `<sha256sum of FILE>` placeholders
 * are replaced. So the tutorial cannot drift from what works.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, binPath } from '../harness/bins.js';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import { freePort } from '../harness/ports.js';

interface Block {
  readonly lang: string;
  /** The paragraph line just before the block (e.g. "`server.conf`:"). */
  readonly caption: string;
  readonly skipped: boolean;
  readonly body: string;
}

/** The fenced blocks of a Markdown text, with the line before each and whether it is marked. */
function fencedBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i] ?? '');
    if (open === null) continue;
    let j = i + 1;
    while (j < lines.length && lines[j] !== '```') j++;
    let k = i - 1;
    while (k >= 0 && (lines[k] ?? '').trim() === '') k--;
    const before = lines[k] ?? '';
    blocks.push({
      lang: open[1] ?? '',
      caption: before,
      skipped: before.includes('<!-- not run by the suite'),
      body: lines.slice(i + 1, j).join('\n'),
    });
    i = j;
  }
  return blocks;
}

/** Whether `actual` has every line of `expected` in order, `…` matching anything within a line. */
function hasLines(actual: string, expected: string): boolean {
  const want = expected.split('\n').filter((l) => l.trim() !== '');
  const have = actual.split('\n');
  let at = 0;
  for (const w of want) {
    const re = new RegExp(
      `^${w
        .split('…')
        .map((p) => p.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    );
    while (at < have.length && !re.test(have[at] ?? '')) at++;
    if (at === have.length) return false;
    at++;
  }
  return true;
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

const TUTORIAL = readFileSync(join(REPO_ROOT, 'docs', 'tutorial.md'), 'utf8');
const ID_DIR = '/tmp/spire-agent-id';

describe('docs/tutorial.md, run as written', () => {
  let cp: ControlPlane;
  let root: string;
  let pgid: number | undefined;
  const killGroup = (): void => {
    if (pgid === undefined) return;
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  };

  before(async () => {
    cp = await startControlPlane();
    root = mkdtempSync(join(tmpdir(), 'na-tutorial-'));
    rmSync(ID_DIR, { recursive: true, force: true });
  });
  after(async () => {
    killGroup();
    await cp.stop();
    rmSync(root, { recursive: true, force: true });
    rmSync(ID_DIR, { recursive: true, force: true });
  });

  it('every step works on a minikube-shaped local cluster, with the output the page shows', async () => {
    // A home laid out like minikube's, and the Node that single-node minikube has.
    const home = join(root, 'home');
    mkdirSync(join(home, '.minikube'), { recursive: true });
    mkdirSync(join(home, '.kube'));
    copyFileSync(cp.pki.caCertPath, join(home, '.minikube', 'ca.crt'));
    copyFileSync(cp.pki.caKeyPath, join(home, '.minikube', 'ca.key'));
    copyFileSync(cp.pki.apiserverCertPath, join(home, '.minikube', 'apiserver.crt'));
    copyFileSync(cp.adminKubeconfig, join(home, '.kube', 'config'));
    await cp.kubectl(['create', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'minikube' } }),
    });

    // "/opt/node-attestor": the parts of this repository the tutorial uses (its scripts write
    // into keys/node-attestor/, which must not be the real checkout).
    const repo = join(root, 'opt-node-attestor');
    mkdirSync(repo);
    cpSync(join(REPO_ROOT, 'k8s-configs'), join(repo, 'k8s-configs'), { recursive: true });
    cpSync(join(REPO_ROOT, 'keys'), join(repo, 'keys'), { recursive: true });
    symlinkSync(join(REPO_ROOT, 'dist'), join(repo, 'dist'));

    const bin = join(root, 'bin');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'node-attestor'),
      `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(REPO_ROOT, 'dist', 'node-attestor.mjs'))} "$@"\n`,
      { mode: 0o755 },
    );
    for (const b of ['kubectl', 'spire-server', 'spire-agent'] as const)
      symlinkSync(binPath(b), join(bin, b));

    const port = String(await freePort());
    const blocks = fencedBlocks(TUTORIAL);
    const files = blocks.filter((b) => b.lang === 'hcl');
    assert.deepEqual(
      files.map((b) => b.caption),
      ['`server.conf`:', '`agent.conf`:'],
      'step 6 shows server.conf and agent.conf',
    );
    for (const f of files) {
      const name = /`([^`]+)`/.exec(f.caption)?.[1] ?? '';
      writeFileSync(
        join(repo, name),
        f.body
          .replaceAll('/home/me', home)
          .replaceAll('/opt/node-attestor', repo)
          .replaceAll('"8081"', `"${port}"`)
          .replaceAll(/"<sha256sum of ([^>]+)>"/g, (_m, file: string) => `"${sha256(file)}"`),
      );
    }
    const run = blocks.filter((b) => b.lang === 'sh' && !b.skipped);
    assert.ok(run.length >= 8, `expected the tutorial's steps, found ${String(run.length)} runnable blocks`);
    const script = ['set -euo pipefail', ...run.map((b) => b.body)].join('\n\n');
    writeFileSync(join(root, 'tutorial.sh'), script);

    const child = spawn('bash', [join(root, 'tutorial.sh')], {
      cwd: repo,
      detached: true,
      env: {
        PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        HOME: home,
        LANG: 'C.UTF-8',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    pgid = child.pid;
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(killGroup, 180_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    assert.equal(
      code,
      0,
      `the tutorial failed (exit ${String(code)}):\n${err.slice(-3000)}\n--- stdout:\n${out.slice(-2000)}`,
    );

    // What the page says each step prints.
    const texts = blocks.filter((b) => b.lang === 'text').map((b) => b.body);
    const agentList = texts.find((t) => t.startsWith('Found 1 attested agent'));
    assert.ok(agentList !== undefined, 'the page shows spire-server agent list');
    assert.ok(hasLines(out, agentList), `agent list as the page shows it:\n${agentList}\n--- got:\n${out}`);
    assert.match(out, /Subject: O = system:nodes, CN = system:node:minikube/);
    assert.match(out, /issued an identity for node minikube \(CSR node-csr-minikube-/);
    assert.match(out, /id-doc\.crt: OK/, 'openssl verify of step 5');
    // The clean-up step removed what the tutorial made.
    assert.equal(existsSync(ID_DIR), false);
    assert.equal(existsSync(join(repo, 'keys', 'node-attestor', 'spire-agent.key')), false);
  });
});

// Runs `npm ci` when node_modules is missing or older than package-lock.json, so that the
// README's commands work on a fresh clone without a separate install step. Plain Node: it
// must run before any dependency exists.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';

const mtime = (p) => {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return undefined;
  }
};
const marker = mtime('node_modules/.package-lock.json');
const lock = mtime('package-lock.json');
if (marker === undefined || (lock !== undefined && lock > marker)) {
  console.error('node-attestor: installing dependencies (npm ci)…');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('node-attestor: npm ci failed; see the output above');
    process.exit(r.status ?? 1);
  }
}

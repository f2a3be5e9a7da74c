// Runs `npm ci` when node_modules is missing or older than package-lock.json, so that the
// README's commands work on a fresh clone without a separate install step. Plain Node: it
// must run before any dependency exists.
import { spawnSync } from 'node:child_process';
import { lstatSync, readlinkSync, statSync } from 'node:fs';

const mtime = (p) => {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return undefined;
  }
};
const marker = mtime('node_modules/.package-lock.json');
const lock = mtime('package-lock.json');
const linked = (() => {
  try {
    return lstatSync('node_modules').isSymbolicLink();
  } catch {
    return false;
  }
})();
if (linked && (marker === undefined || (lock !== undefined && lock > marker))) {
  // npm ci empties the directory a symlinked node_modules points to (someone else's install)
  // and then replaces the link: never run it here. A git checkout newer than that install also
  // lands here, with nothing out of date.
  console.error(
    `node-attestor: node_modules links to ${readlinkSync('node_modules')}, which looks older than package-lock.json; not reinstalling it (run npm ci there if it is out of date)`,
  );
} else if (marker === undefined || (lock !== undefined && lock > marker)) {
  console.error('node-attestor: installing dependencies (npm ci)…');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('node-attestor: npm ci failed; see the output above');
    process.exit(r.status ?? 1);
  }
}

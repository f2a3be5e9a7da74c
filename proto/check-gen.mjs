// Regenerates the protobuf code into a temporary directory and fails if it differs from the
// checked-in src/gen, so a .proto edit cannot ship without its generated code (and vice versa).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const checkedIn = 'src/gen';
const tmp = mkdtempSync(join(tmpdir(), 'node-attestor-gen-'));
try {
  const r = spawnSync('npx', ['buf', 'generate', 'proto', '--template', 'proto/buf.gen.yaml', '-o', tmp], {
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    console.error('check:gen: buf generate failed; see the output above');
    process.exit(1);
  }
  const list = (root) => {
    const out = new Map();
    const walk = (dir) => {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else out.set(relative(root, p), readFileSync(p));
      }
    };
    walk(root);
    return out;
  };
  const fresh = list(join(tmp, checkedIn));
  const current = list(checkedIn);
  const problems = [];
  for (const [f, data] of fresh) {
    const old = current.get(f);
    if (old === undefined) problems.push(`missing: ${join(checkedIn, f)}`);
    else if (!old.equals(data)) problems.push(`differs: ${join(checkedIn, f)}`);
  }
  for (const f of current.keys())
    if (!fresh.has(f)) problems.push(`stale (no .proto generates it): ${join(checkedIn, f)}`);
  if (problems.length > 0) {
    console.error(`check:gen: ${checkedIn} is out of date with proto/:\n  ${problems.join('\n  ')}`);
    console.error('run `npm run gen:proto` and commit the result');
    process.exit(1);
  }
  console.error(`check:gen: ${checkedIn} is up to date (${fresh.size} files)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

// Prints the test files of one suite (unit | e2e), sorted, space-separated. Node 20's --test does
// not expand globs, and bash's ** is not recursive without globstar, so we list them ourselves.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const suite = process.argv[2];
if (suite !== 'unit' && suite !== 'e2e') {
  console.error('usage: list-tests.mjs unit|e2e');
  process.exit(2);
}
const root = join('test', suite);
const files = [];
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.ts')) files.push(p);
  }
};
walk(root);
if (files.length === 0) {
  console.error(`no test files under ${root}`);
  process.exit(1);
}
console.log(files.sort().join(' '));

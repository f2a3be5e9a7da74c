/**
 * Child process for the crash tests: writes the identity document read from stdin into argv[2]
 * and SIGKILLs itself at step argv[3], leaving the directory exactly as a crash there would.
 * Exits 3 if the step never came.
 */
import { text } from 'node:stream/consumers';
import { writeIdentity } from '../../../src/identity/store.js';
import type { IdentityDocument } from '../../../src/identity/store.js';

const [idDir, crashAt] = process.argv.slice(2);
if (idDir === undefined || crashAt === undefined) throw new Error('usage: crash-writer <idDir> <step>');
const doc = JSON.parse(await text(process.stdin)) as IdentityDocument;
await writeIdentity(idDir, doc, {
  onStep: (step) => {
    if (step === crashAt) process.kill(process.pid, 'SIGKILL');
  },
});
process.exitCode = 3;

// Starts a control plane, prints its dir, and waits forever: the harness test SIGKILLs this
// process and checks that nothing it started survives.
import { startControlPlane } from '../../harness/control-plane.js';

const cp = await startControlPlane({ keepDir: true });
process.stdout.write(`${cp.dir}\n`);
setInterval(() => undefined, 1 << 30);

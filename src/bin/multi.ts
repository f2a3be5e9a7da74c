// Entry point of the single executable (dist/node-attestor): the CLI, the approver, the signer and
// the SPIRE plugins (k8s_csr, k8s_pod_cert) in one file, so plugin_cmd points at one checksummed
// file and an image carries one runtime. It runs the program named by the name it was started as (a symlink or hard link,
// busybox style), or else by a first argument naming a plugin; anything else is the CLI. Only the
// chosen program's modules are evaluated.
import { basename } from 'node:path';
import { programFor } from './programs.js';

const chosen = programFor(basename(process.argv0), process.argv[2]);
if (chosen.viaArgument) process.argv.splice(2, 1);
switch (chosen.program) {
  case 'k8s-csr-agent-plugin':
    await import('./agent-plugin.js');
    break;
  case 'k8s-csr-server-plugin':
    await import('./server-plugin.js');
    break;
  case 'k8s-pod-cert-agent-plugin':
    await import('./pod-cert-agent-plugin.js');
    break;
  case 'k8s-pod-cert-server-plugin':
    await import('./pod-cert-server-plugin.js');
    break;
  case 'node-attestor':
    await import('./node-attestor.js');
    break;
}

// npm run cluster: starts a local control plane (etcd, kube-apiserver, kube-controller-manager
// with the CSR controllers) and prints how to reach it; Ctrl-C stops it and removes its files.
import { binPath } from '../test/harness/bins.js';
import { startControlPlane } from '../test/harness/control-plane.js';

const t0 = performance.now();
const cp = await startControlPlane({
  log: (l) => {
    process.stderr.write(`starting ${l}\n`);
  },
});
const secs = ((performance.now() - t0) / 1000).toFixed(1);
process.stdout.write(
  [
    `Local control plane ready in ${secs} s.`,
    `  API server:        ${cp.server}`,
    `  cluster CA:        ${cp.pki.caCertPath}`,
    `  cluster CA key:    ${cp.pki.caKeyPath}   (signs node client certificates)`,
    `  admin kubeconfig:  ${cp.adminKubeconfig}`,
    `  logs:              ${cp.dir}/*.log`,
    '',
    'Try:',
    `  export KUBECONFIG=${cp.adminKubeconfig}`,
    `  ${binPath('kubectl')} get csr`,
    '',
    'Press Ctrl-C to stop it.',
    '',
  ].join('\n'),
);
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  process.stderr.write('stopping…\n');
  void cp.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => {
  const dead = cp.processes.find((p) => p.hasExited);
  if (dead !== undefined && !stopping) {
    process.stderr.write(`${dead.name} ${dead.describeExit()}; last log lines:\n${dead.tail()}\n`);
    stop();
  }
}, 1000);

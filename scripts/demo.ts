// npm run demo: the 2018 tutorial, end to end. With no cluster given it starts a local control
// plane; with `npm run demo -- --kubeconfig <path>` it uses that cluster (whose current user -- a
// certificate, a token or an exec plugin such as EKS's `aws eks get-token` -- must be allowed to
// create ClusterRoles/Bindings and approve CSRs).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT, binPath } from '../test/harness/bins.js';
import { startControlPlane, type ControlPlane } from '../test/harness/control-plane.js';
import type { Node } from '../test/harness/node.js';
import { runKitAct } from './demo-kit.js';
import {
  ourPlugin,
  startSpireAgent,
  startSpireServer,
  type SpireAgent,
  type SpireServer,
} from '../test/harness/spire.js';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    nodes: { type: 'string', default: '1' },
    keep: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help === true) {
  process.stdout.write(
    'usage: npm run demo [-- --kubeconfig <admin kubeconfig>] [-- --nodes N] [-- --keep]\n' +
      '  without --kubeconfig: starts a local control plane (etcd, kube-apiserver, kube-controller-manager,\n' +
      '    kube-scheduler), runs the tutorial on the host (act 1), then joins N real nodes (kubelet +\n' +
      '    containerd, TLS bootstrap) and deploys the kit (deploy/) on them as pods (act 2)\n' +
      '  --nodes N: nodes for act 2 (default 1, at most 2; 0 skips act 2)\n' +
      '  --keep: leave the local control plane and the demo files in place at the end\n',
  );
  process.exit(0);
}
const nodeCount = Number(values.nodes);
if (!Number.isInteger(nodeCount) || nodeCount < 0 || nodeCount > 2) {
  process.stderr.write(`demo: --nodes must be 0, 1 or 2 (got '${values.nodes}')\n`);
  process.exit(2);
}

const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const seconds = (since: number): string => `${((performance.now() - since) / 1000).toFixed(1)} s`;
let stepNo = 0;
let stepStart = 0;
/** Closes the current step with its elapsed time, so that a slow step is visible as such. */
const endStep = (): void => {
  if (stepNo > 0) process.stdout.write(`  (step ${String(stepNo)} took ${seconds(stepStart)})\n`);
};
const step = (title: string): void => {
  endStep();
  stepNo += 1;
  stepStart = performance.now();
  process.stdout.write(`\n${bold(`== ${String(stepNo)}. ${title}`)}\n`);
};
/** Awaits `p`, printing a line every 5 s while it is pending: a long wait never looks like a hang. */
const waitingFor = async <T>(what: string, p: Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const timer = setInterval(() => {
    process.stdout.write(`  … still waiting for ${what}, ${seconds(t0)}\n`);
  }, 5000);
  try {
    return await p;
  } finally {
    clearInterval(timer);
  }
};
const show = (
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  input?: string,
): string => {
  process.stdout.write(`$ ${[cmd, ...args].map((a) => (/[\s'"$]/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
  const r = spawnSync(cmd, args, {
    env,
    encoding: 'utf8',
    input,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'inherit'],
  });
  process.stdout.write(r.stdout);
  if (r.status !== 0) throw new Error(`${cmd} exited with ${String(r.status ?? r.signal)}`);
  return r.stdout;
};

const work = mkdtempSync(join(tmpdir(), 'node-attestor-demo-'));
const kubectl = binPath('kubectl');
// The single executable, as users ship it (Node 26 inside).
const cli = join(REPO_ROOT, 'dist', 'node-attestor');
const configs = ['csr-create-role.yml', 'csr-create-rolebinding.yml', 'csr-autoapprove-rolebinding.yml'].map(
  (f) => join(REPO_ROOT, 'k8s-configs', f),
);
const idDir = join(work, 'spire-agent-id');
const keysDir = join(work, 'keys');
let cp: ControlPlane | undefined;
let spireServer: SpireServer | undefined;
let spireAgent: SpireAgent | undefined;
const nodes: Node[] = [];

try {
  let kubeconfig: string;
  let cliAuth: string[];
  if (values.kubeconfig === undefined) {
    step('Start a local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager)');
    const t0 = performance.now();
    cp = await waitingFor(
      'the control plane to be ready',
      startControlPlane({
        // Act 2's nodes need the scheduler and the workload controllers.
        workloads: nodeCount > 0,
        log: (l) => process.stdout.write(`  starting ${l}\n`),
      }),
    );
    process.stdout.write(`  ready in ${seconds(t0)}; admin kubeconfig ${cp.adminKubeconfig}\n`);
    kubeconfig = cp.adminKubeconfig;
  } else {
    kubeconfig = values.kubeconfig;
    step(`Use the cluster of ${kubeconfig}`);
  }
  const env = { ...process.env, KUBECONFIG: kubeconfig, KUBECTL: kubectl };

  step('Create the RBAC objects (k8s-configs/)');
  show(kubectl, ['apply', ...configs.flatMap((f) => ['-f', f])], env);

  step('Mint the bootstrap credential of the user spire-agent (keys/node-attestor/)');
  if (cp !== undefined) {
    // The 2018 tutorial's way: sign with the cluster CA key (minikube keeps it in ~/.minikube).
    show(
      join(REPO_ROOT, 'keys/node-attestor/signcsr.sh'),
      ['-c', cp.pki.caCertPath, '-k', cp.pki.caKeyPath, '-o', keysDir],
      env,
    );
  } else {
    // No CA key needed: the CSR API with signer kubernetes.io/kube-apiserver-client, approved by us (admin).
    show(join(REPO_ROOT, 'keys/node-attestor/request-via-csr-api.sh'), ['-a', '-o', keysDir], env);
  }

  step("Run node-attestor with the tutorial's flags");
  if (cp !== undefined) {
    // As on minikube: -ca-cert is the API server's own certificate (pinned), and the kubeconfig
    // only supplies the server address; the spire-agent flags override its credentials.
    cliAuth = ['-ca-cert', cp.pki.apiserverCertPath];
  } else {
    cliAuth = ['-kubeconfig', kubeconfig];
  }
  show(
    cli,
    [
      ...cliAuth,
      '-client-cert',
      join(keysDir, 'spire-agent.crt'),
      '-client-key',
      join(keysDir, 'spire-agent.key'),
      '-id-dir',
      idDir,
    ],
    env,
  );

  step('Look at the identity document');
  show('ls', ['-lL', idDir]);
  show('openssl', ['x509', '-in', join(idDir, 'id-doc.crt'), '-text', '-noout']);
  if (cp !== undefined) show('openssl', ['verify', '-CAfile', cp.pki.caCertPath, join(idDir, 'id-doc.crt')]);
  const csrs = execFileSync(kubectl, ['get', 'csr', '-o', 'wide'], { env, encoding: 'utf8' });
  process.stdout.write(`\n$ kubectl get csr -o wide\n${csrs}`);

  step('Start spire-server with the k8s_csr server plugin');
  // The server trusts the cluster CA: from the local control plane, or from the kubeconfig.
  let caBundle: string;
  if (cp !== undefined) {
    caBundle = cp.pki.caCertPath;
  } else {
    caBundle = join(work, 'cluster-ca.crt');
    // --flatten inlines a certificate-authority file as certificate-authority-data.
    const data = execFileSync(
      kubectl,
      [
        'config',
        'view',
        '--raw',
        '--minify',
        '--flatten',
        '-o',
        'jsonpath={.clusters[0].cluster.certificate-authority-data}',
      ],
      { env, encoding: 'utf8' },
    );
    if (data === '')
      throw new Error(
        'the kubeconfig names no certificate authority for its cluster; the server plugin needs the cluster CA',
      );
    writeFileSync(caBundle, Buffer.from(data, 'base64'));
  }
  // verify_node: the server does not trust the node name alone; the Node must exist. A kubelet
  // registers it; the embedded control plane has no kubelet, so the demo creates it.
  const nodeName = hostname().trim().toLowerCase();
  if (cp !== undefined)
    show(
      kubectl,
      ['create', '-f', '-'],
      env,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: nodeName, labels: { 'topology.kubernetes.io/zone': 'demo-zone' } },
      }),
    );
  const nodeExists = spawnSync(kubectl, ['get', 'node', nodeName], { env, stdio: 'ignore' }).status === 0;
  if (!nodeExists)
    process.stdout.write(
      `(no Node named ${nodeName} in this cluster: running the server plugin without verify_node)\n`,
    );
  const verify = nodeExists
    ? `\n    verify_node = true\n    kubeconfig_path = "${kubeconfig}"\n    allowed_node_label_keys = ["topology.kubernetes.io/zone"]\n    max_certificate_lifetime = "2h"\n    max_certificate_age = "1h"`
    : '';
  const serverPlugin = ourPlugin(
    'server',
    'k8s_csr',
    `clusters = {\n  "demo" = {\n    ca_bundle_path = "${caBundle}"${verify}\n  }\n}`,
    join(REPO_ROOT, 'dist'),
  );
  process.stdout.write(`server.conf, plugins section:\n${serverPlugin}\n`);
  spireServer = await waitingFor(
    'spire-server to be healthy',
    startSpireServer(join(work, 'spire-server'), { nodeAttestors: serverPlugin }),
  );
  process.stdout.write(`spire-server is healthy on 127.0.0.1:${String(spireServer.port)}\n`);

  step('Start spire-agent with the k8s_csr agent plugin (it reuses the identity document from step 4)');
  const agentData = [
    'cluster = "demo"',
    `kubeconfig_path = "${kubeconfig}"`,
    ...(cp !== undefined ? [`ca_cert_path = "${cp.pki.apiserverCertPath}"`] : []),
    `client_cert_path = "${join(keysDir, 'spire-agent.crt')}"`,
    `client_key_path = "${join(keysDir, 'spire-agent.key')}"`,
    `identity_dir = "${idDir}"`,
  ].join('\n');
  const agentPlugin = ourPlugin('agent', 'k8s_csr', agentData, join(REPO_ROOT, 'dist'));
  process.stdout.write(`agent.conf, NodeAttestor section:\n${agentPlugin}\n`);
  spireAgent = startSpireAgent(join(work, 'spire-agent'), spireServer, { nodeAttestor: agentPlugin });
  await waitingFor('spire-agent to attest and be healthy', spireAgent.waitHealthy());
  show(binPath('spire-agent'), ['healthcheck', '-socketPath', spireAgent.socketPath]);

  step('The attested agent, as spire-server sees it');
  show(binPath('spire-server'), ['agent', 'list', '-socketPath', spireServer.socketPath]);
  show(binPath('spire-server'), [
    'agent',
    'show',
    '-spiffeID',
    `spiffe://example.org/spire/agent/k8s_csr/demo/${nodeName}`,
    '-socketPath',
    spireServer.socketPath,
  ]);

  if (cp !== undefined && nodeCount > 0) {
    // Act 1's SPIRE and its hand-made Node make way for real nodes and the kit's pods.
    await spireAgent.stop();
    await spireServer.stop();
    spireAgent = undefined;
    spireServer = undefined;
    execFileSync(kubectl, ['delete', 'node', nodeName], { env, stdio: 'ignore' });
    await runKitAct(
      cp,
      nodeCount,
      work,
      {
        step,
        show,
        waitingFor,
        say: (line) => process.stdout.write(`${line}\n`),
      },
      nodes,
    );
  } else if (cp === undefined) {
    process.stdout.write(
      '\n(act 2, the kit on real nodes, runs on the local cluster; for this cluster, see docs/deploy.md)\n',
    );
  }

  endStep();
  process.stdout.write(
    `\n${bold('Done:')} the node got a certificate from the cluster CA through the CSR API, and SPIRE attested it with k8s_csr${nodes.length > 0 ? `;\nthen ${String(nodes.length)} real node(s) joined, the kit ran SPIRE and the approver as pods, the agents attested, and a workload pod got its SVID` : ''}.\nFiles of this demo: ${work}\n`,
  );
} catch (err) {
  process.stderr.write(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  if (cp !== undefined) process.stderr.write(`control-plane logs: ${cp.dir}/*.log\n`);
  process.exitCode = 1;
} finally {
  if (values.keep === true && cp !== undefined) {
    process.stdout.write(
      `\n--keep: the control plane runs until you press Ctrl-C (KUBECONFIG=${cp.adminKubeconfig})\n`,
    );
    await new Promise<void>((resolve) => process.once('SIGINT', resolve));
  }
  await spireAgent?.stop();
  await spireServer?.stop();
  for (const n of nodes.reverse()) await n.stop();
  await cp?.stop();
  if (values.keep !== true) rmSync(work, { recursive: true, force: true });
}

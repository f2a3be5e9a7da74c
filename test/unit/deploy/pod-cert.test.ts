/**
 * The kit's pod-certificate component (deploy/pod-cert/) without a cluster: its signer manifests
 * stay the copies of k8s-configs/signer/, its SPIRE configs read only defined parameters, its
 * signer name is one everywhere, and the kit with the component builds with kubectl kustomize
 * into what the docs say. Running it on real nodes is test/e2e/pod-cert-node.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT, builtBinPath } from '../../harness/bins.js';
import { SIGNER_DEFAULTS } from '../../../src/signer/settings.js';

const read = (...p: string[]): string => readFileSync(join(REPO_ROOT, ...p), 'utf8');

describe('deploy/pod-cert (the kit with pod certificates)', () => {
  for (const [kit, host] of [
    ['rbac.yaml', '10-signer-rbac.yml'],
    ['deployment.yaml', '20-signer-deployment.yml'],
  ] as const)
    it(`carries k8s-configs/signer/${host} unchanged (one home, two places)`, () => {
      const copy = read('deploy', 'pod-cert', 'signer', kit);
      // The copy has two header lines saying where it comes from.
      assert.match(copy, new RegExp(`^# A copy of k8s-configs/signer/${host.replaceAll('.', '\\.')}`));
      assert.equal(copy.split('\n').slice(2).join('\n'), read('k8s-configs', 'signer', host));
    });

  it("names the signer's default name wherever it names one", () => {
    for (const f of ['agent-daemonset-patch.yaml', join('signer', 'rbac.yaml')])
      assert.match(
        read('deploy', 'pod-cert', f),
        new RegExp(SIGNER_DEFAULTS.signerName.replaceAll('.', '\\.')),
        f,
      );
  });

  for (const [conf, base] of [
    ['agent.conf', join('agent', 'agent.conf')],
    ['server.conf', join('server', 'server.conf')],
  ] as const)
    it(`its ${conf} is the kit's deploy/${base} with only the NodeAttestor block swapped`, () => {
      // Comments may differ (they say what each variant does); the settings may not.
      const settings = (text: string): string =>
        text
          .split('\n')
          .filter((l) => !/^\s*#/.test(l))
          .join('\n')
          .replace(/\n {2}NodeAttestor "[a-z0-9_]+" \{\n[\s\S]*?\n {2}\}\n/, '\n  NodeAttestor\n');
      assert.equal(settings(read('deploy', 'pod-cert', conf)), settings(read('deploy', base)));
    });

  it('its SPIRE configs read only the parameters the kit defines', () => {
    const defined = new Set<string>(['NODE_NAME', 'HOST_IP']);
    for (const line of read('deploy', 'params.env').split('\n')) {
      const m = /^([A-Z_][A-Z0-9_]*)=/.exec(line.trim());
      if (m?.[1] !== undefined) defined.add(m[1]);
    }
    for (const conf of ['server.conf', 'agent.conf']) {
      const text = read('deploy', 'pod-cert', conf);
      assert.match(text, /NodeAttestor "k8s_pod_cert"/, conf);
      assert.doesNotMatch(text, /k8s_csr|k8s-csr/, conf);
      for (const m of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g))
        assert.ok(defined.has(m[1] ?? ''), `${conf} reads \${${String(m[1])}}`);
      assert.doesNotMatch(text.replaceAll(/\$\{[A-Za-z0-9_]+\}/g, ''), /\$/, conf);
    }
  });

  const kubectl = builtBinPath('kubectl');
  it(
    'an overlay of the kit with the component builds: signer, podCertificate volume, no approver, no CSR rights',
    { skip: kubectl === undefined ? 'kubectl not built (npm run test-bins)' : false },
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'na-pod-cert-kit-'));
      try {
        const kitDir = relative(dir, join(REPO_ROOT, 'deploy'));
        writeFileSync(
          join(dir, 'kustomization.yaml'),
          `resources:\n  - ${kitDir}\ncomponents:\n  - ${kitDir}/pod-cert\n`,
        );
        const out = execFileSync(kubectl ?? 'kubectl', ['kustomize', dir], { encoding: 'utf8' });
        assert.match(out, /^kind: Deployment\n(?:.*\n){1,8}\s+name: node-attestor-signer$/m);
        assert.doesNotMatch(out, /node-attestor-approver/);
        assert.doesNotMatch(out, /certificatesigningrequests/);
        assert.match(
          out,
          /- podCertificate:\n(\s+\S.*\n)*\s+signerName: node-attestor\.spiffe\.io\/spire-agent/,
        );
        assert.match(out, /plugin_cmd = "\/opt\/spire\/plugins\/k8s-pod-cert-agent-plugin"/);
        assert.match(out, /plugin_cmd = "\/opt\/spire\/plugins\/k8s-pod-cert-server-plugin"/);
        assert.doesNotMatch(out, /k8s-csr-(agent|server)-plugin/);
        assert.match(out, /name: node-attestor-signer-ca-bundle/);
        // The k8s_csr identity hostPath is gone from the agent.
        assert.doesNotMatch(out, /path: \/var\/lib\/spire\/agent/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

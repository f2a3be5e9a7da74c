/**
 * The deployment kit (deploy/) without a cluster: the facts it shares with other files stay
 * equal to theirs, every parameter its SPIRE configs read is defined, and kustomize builds it.
 * Running it on real nodes is test/e2e/deploy.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT, builtBinPath } from '../../harness/bins.js';

const DEPLOY = join(REPO_ROOT, 'deploy');
const read = (...p: string[]): string => readFileSync(join(REPO_ROOT, ...p), 'utf8');

/** KEY=value lines of params.env. */
function params(): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of read('deploy', 'params.env').split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const i = t.indexOf('=');
    assert.ok(i > 0, `params.env: not KEY=value: ${t}`);
    m.set(t.slice(0, i), t.slice(i + 1));
  }
  return m;
}

describe('deploy/ (the kustomize kit)', () => {
  it('carries the approver RBAC of k8s-configs/approver/ unchanged (one rule set, two places)', () => {
    const kit = read('deploy', 'approver', 'rbac.yaml');
    const host = read('k8s-configs', 'approver', '10-approver-rbac.yml');
    // The kit's copy has two header lines saying where it comes from.
    assert.equal(kit.split('\n').slice(2).join('\n'), host);
  });

  it('defines every ${NAME} the SPIRE configs read (an unset one would expand to nothing)', () => {
    const defined = new Set([...params().keys(), 'NODE_NAME']);
    for (const conf of [join('server', 'server.conf'), join('agent', 'agent.conf')]) {
      const used = [...read('deploy', conf).matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]);
      assert.ok(used.length > 0, conf);
      for (const name of used) assert.ok(defined.has(name ?? ''), `${conf} reads \${${String(name)}}`);
      // No bare $NAME: -expandEnv would replace it too.
      assert.doesNotMatch(read('deploy', conf).replaceAll(/\$\{[A-Za-z0-9_]+\}/g, ''), /\$/, conf);
    }
    // NODE_NAME comes from the downward API in the DaemonSet.
    assert.match(
      read('deploy', 'agent', 'daemonset.yaml'),
      /name: NODE_NAME\n\s+valueFrom:\n\s+fieldRef:\n\s+fieldPath: spec.nodeName/,
    );
  });

  it('ships a plugin_checksum placeholder that SPIRE refuses (not an empty, unchecked one)', () => {
    const sum = params().get('PLUGIN_CHECKSUM') ?? '';
    assert.notEqual(sum, '');
    assert.doesNotMatch(sum, /^[0-9a-f]*$/i);
  });

  it('defaults its images to the tags tools/build-images.sh gives them', () => {
    const version = (JSON.parse(read('package.json')) as { version: string }).version;
    const spire = /github\.com\/spiffe\/spire v(\S+)/.exec(read('tools', 'spire', 'go.mod'))?.[1];
    assert.ok(spire !== undefined);
    const k = read('deploy', 'kustomization.yaml');
    const tag = (name: string): string | undefined =>
      new RegExp(`- name: localhost/${name}\\n\\s+newTag: (\\S+)`).exec(k)?.[1];
    assert.equal(tag('node-attestor'), version);
    assert.equal(tag('spire-server'), `${spire}-k8s-csr-${version}`);
    assert.equal(tag('spire-agent'), `${spire}-k8s-csr-${version}`);
  });

  const kubectl = builtBinPath('kubectl');
  it(
    'builds with kubectl kustomize; nothing binds the nodeclient auto-approval',
    { skip: kubectl === undefined ? 'kubectl not built (npm run test-bins)' : false },
    () => {
      const out = execFileSync(kubectl ?? 'kubectl', ['kustomize', DEPLOY], { encoding: 'utf8' });
      for (const kind of ['StatefulSet', 'DaemonSet', 'Deployment', 'Service', 'Namespace'])
        assert.match(out, new RegExp(`^kind: ${kind}$`, 'm'));
      assert.doesNotMatch(out, /certificatesigningrequests:nodeclient/);
      // The generated ConfigMaps are in the workloads' namespace, so their references resolve.
      assert.match(out, /configMapRef:\n\s+name: spire-params-[a-z0-9]+/);
      assert.doesNotMatch(out, /name: spire-params\n/);
    },
  );
});

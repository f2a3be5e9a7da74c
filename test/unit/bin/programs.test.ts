import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { programFor } from '../../../src/bin/programs.js';

describe('the single executable picks its program', () => {
  it('by the name it is run as (a link named after a program)', () => {
    assert.deepEqual(programFor('k8s-csr-agent-plugin', undefined), {
      program: 'k8s-csr-agent-plugin',
      viaArgument: false,
    });
    assert.deepEqual(programFor('k8s-csr-server-plugin', 'k8s-csr-agent-plugin'), {
      program: 'k8s-csr-server-plugin',
      viaArgument: false,
    });
    assert.deepEqual(programFor('node-attestor', '--help'), { program: 'node-attestor', viaArgument: false });
  });

  it('the k8s_pod_cert plugins too, by link name or first argument', () => {
    for (const p of ['k8s-pod-cert-agent-plugin', 'k8s-pod-cert-server-plugin'] as const) {
      assert.deepEqual(programFor(p, undefined), { program: p, viaArgument: false });
      assert.deepEqual(programFor('node-attestor', p), { program: p, viaArgument: true });
    }
  });

  it('by a first argument naming a plugin, under any other name', () => {
    assert.deepEqual(programFor('node-attestor', 'k8s-csr-server-plugin'), {
      program: 'k8s-csr-server-plugin',
      viaArgument: true,
    });
    assert.deepEqual(programFor('na-linux-amd64', 'k8s-csr-agent-plugin'), {
      program: 'k8s-csr-agent-plugin',
      viaArgument: true,
    });
  });

  it('as the CLI otherwise, whatever the file is called', () => {
    for (const [name, arg] of [
      ['node-attestor-v0.1.0', undefined],
      ['node', 'approver'],
      ['node-attestor', 'node-attestor'],
      ['K8S-CSR-AGENT-PLUGIN', undefined],
    ] as const)
      assert.deepEqual(programFor(name, arg), { program: 'node-attestor', viaArgument: false }, name);
  });
});

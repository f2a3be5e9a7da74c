import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agentId } from '../../../src/attestation/agent-id.js';
import {
  DEFAULT_AGENT_PATH_TEMPLATE,
  parseAgentPathTemplate,
} from '../../../src/attestation/agent-path-template.js';
import {
  clusterNameProblem,
  pathSegmentProblem,
  trustDomainProblem,
} from '../../../src/attestation/spiffe-id.js';
import { expectError } from './helpers.js';

const values = {
  plugin_name: 'k8s_csr',
  cluster: 'prod',
  node_name: 'node-1',
  fingerprint: 'ab',
  serial: '01',
};

describe('agentId', () => {
  it('is spiffe://<td>/spire/agent/<plugin>/<cluster>/<node> by default', () => {
    const template = parseAgentPathTemplate(DEFAULT_AGENT_PATH_TEMPLATE, 'k8s_csr');
    assert.equal(
      agentId({ trustDomain: 'example.org', template, values }),
      'spiffe://example.org/spire/agent/k8s_csr/prod/node-1',
    );
  });

  it('uses the configured plugin name', () => {
    const template = parseAgentPathTemplate(DEFAULT_AGENT_PATH_TEMPLATE, 'x509pop');
    assert.equal(
      agentId({ trustDomain: 'td', template, values: { ...values, plugin_name: 'x509pop' } }),
      'spiffe://td/spire/agent/x509pop/prod/node-1',
    );
  });

  it('refuses an invalid trust domain', () => {
    const template = parseAgentPathTemplate(DEFAULT_AGENT_PATH_TEMPLATE, 'k8s_csr');
    for (const td of ['', 'Example.org', 'a/b', 'a:1', 'x'.repeat(256)])
      expectError(
        () => agentId({ trustDomain: td, template, values }),
        'ERR_CONFIG',
        /trust domain .* is invalid/,
      );
  });
});

describe('SPIFFE ID name rules', () => {
  it('path segments: [A-Za-z0-9._-], not empty, not . or ..', () => {
    for (const ok of ['a', 'A.b_c-1', '...']) assert.equal(pathSegmentProblem(ok), undefined, ok);
    for (const bad of ['', '.', '..', 'a/b', 'a:b', 'é', 'a b', '%2f'])
      assert.notEqual(pathSegmentProblem(bad), undefined, bad);
  });

  it('trust domains: [a-z0-9._-]', () => {
    assert.equal(trustDomainProblem('example.org'), undefined);
    for (const bad of ['', 'Example', 'a_b/c', 'a:b'])
      assert.notEqual(trustDomainProblem(bad), undefined, bad);
  });

  it('cluster names: segments of at most 253 characters', () => {
    assert.equal(clusterNameProblem('prod-eu_1.a'), undefined);
    assert.match(clusterNameProblem('x'.repeat(254)) ?? '', /at most 253/);
    assert.notEqual(clusterNameProblem('..'), undefined);
  });
});

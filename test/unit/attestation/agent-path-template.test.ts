import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_AGENT_PATH_TEMPLATE,
  parseAgentPathTemplate,
  renderAgentPath,
  type TemplateValues,
} from '../../../src/attestation/agent-path-template.js';
import { expectError } from './helpers.js';

const values: TemplateValues = {
  plugin_name: 'k8s_csr',
  cluster: 'prod',
  node_name: 'node-1.example',
  node_uid: '6f1b1d7e-0a41-4c5f-9a38-7c3b7e0d2a11',
  fingerprint: 'a'.repeat(40),
  serial: '0abc',
};

describe('parseAgentPathTemplate', () => {
  it('parses the default template', () => {
    const t = parseAgentPathTemplate(DEFAULT_AGENT_PATH_TEMPLATE, 'k8s_csr');
    assert.deepEqual([...t.variables].sort(), ['cluster', 'node_name', 'plugin_name']);
    assert.equal(renderAgentPath(t, values), '/k8s_csr/prod/node-1.example');
  });

  it('renders every variable, literals, mixed segments and spaces inside braces', () => {
    const t = parseAgentPathTemplate(
      '/{{ plugin_name }}/k8s-{{cluster}}/{{node_uid}}/{{fingerprint}}.{{serial}}',
      'k8s_csr',
    );
    assert.equal(
      renderAgentPath(t, values),
      '/k8s_csr/k8s-prod/6f1b1d7e-0a41-4c5f-9a38-7c3b7e0d2a11/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.0abc',
    );
    assert.ok(t.variables.has('node_uid'));
  });

  it('accepts the plugin name as a literal first segment', () => {
    assert.equal(
      renderAgentPath(parseAgentPathTemplate('/x509pop/{{fingerprint}}', 'x509pop'), {
        ...values,
        plugin_name: 'x509pop',
      }),
      `/x509pop/${'a'.repeat(40)}`,
    );
  });

  const invalid: [string, RegExp][] = [
    ['{{plugin_name}}/{{node_name}}', /must start with "\/"/],
    ['/{{plugin_name}}/{{node}}', /unknown variable \{\{node\}\}; known are/],
    ['/{{plugin_name}}/{{ }}', /unknown variable \{\{\}\}/],
    ['/{{plugin_name}}//{{node_name}}', /segment 2 is empty/],
    ['/{{plugin_name}}/{{node_name}}/', /segment 3 is empty/],
    ['/{{plugin_name}}/../{{node_name}}', /may not be "\.\."/],
    ['/{{plugin_name}}/./{{node_name}}', /may not be "\."/],
    ['/{{plugin_name}}/a:b', /characters outside/],
    ['/{{plugin_name}}/{node_name}', /stray brace/],
    ['/{{plugin_name}}/{{node_name}', /stray brace/],
    ['/{{plugin_name}}', /at least one segment after the plugin name/],
    [
      '/{{cluster}}/{{node_name}}',
      /must start with \/\{\{plugin_name\}\}\/: SPIRE accepts agent IDs only under \/spire\/agent\/k8s_csr\//,
    ],
    ['/other/{{node_name}}', /must start with \/\{\{plugin_name\}\}\//],
    ['/{{plugin_name}}-x/{{node_name}}', /must start with/],
    ['', /must start with "\/"/],
  ];
  for (const [text, message] of invalid)
    it(`refuses ${JSON.stringify(text)} with ERR_CONFIG`, () => {
      expectError(() => parseAgentPathTemplate(text, 'k8s_csr'), 'ERR_CONFIG', message, {
        key: 'agent_path_template',
      });
    });
});

describe('renderAgentPath', () => {
  it('refuses {{node_uid}} without a UID (no Node lookups)', () => {
    const t = parseAgentPathTemplate('/{{plugin_name}}/{{node_uid}}', 'k8s_csr');
    expectError(
      () => renderAgentPath(t, { ...values, node_uid: undefined }),
      'ERR_CONFIG',
      /uses \{\{node_uid\}\}, which is not available/,
    );
  });

  it('validates every rendered segment', () => {
    const t = parseAgentPathTemplate('/{{plugin_name}}/{{cluster}}/{{node_name}}', 'k8s_csr');
    for (const cluster of ['', '.', '..', 'a/b', 'a:b', 'a b'])
      expectError(
        () => renderAgentPath(t, { ...values, cluster }),
        'ERR_INTERNAL',
        /not a valid SPIFFE ID path segment/,
      );
  });
});

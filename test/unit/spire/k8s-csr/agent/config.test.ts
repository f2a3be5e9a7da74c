/**
 * The k8s_csr agent plugin's configuration (parseAgentConfig): every key with a good and a bad
 * value. Each refusal is ERR_CONFIG whose message and details.key name the key, so spire-agent's
 * log says what to fix.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { isAttestorError } from '../../../../../src/errors.js';
import {
  AGENT_ID_DIR,
  DEFAULT_APPROVAL_TIMEOUT_MS,
  DEFAULT_EXPIRATION_MS,
} from '../../../../../src/identity/defaults.js';
import { parseAgentConfig, type AgentConfig } from '../../../../../src/spire/k8s-csr/agent/config.js';

/** Lines of HCL; every config below names its node so the host name does not matter. */
const hcl = (...lines: string[]): string =>
  ['cluster = "prod"', 'agent_name = "node-1"', ...lines].join('\n');

const parse = (text: string, env: NodeJS.ProcessEnv = {}): AgentConfig => parseAgentConfig(text, env);

/** Asserts ERR_CONFIG with details.key === key, a message naming the key and matching `why`. */
function refuses(text: string, key: string, why?: RegExp, env: NodeJS.ProcessEnv = {}): string {
  let caught: unknown;
  try {
    parseAgentConfig(text, env);
  } catch (err) {
    caught = err;
  }
  assert.ok(isAttestorError(caught, 'ERR_CONFIG'), `expected ERR_CONFIG for ${key}, got ${String(caught)}`);
  assert.equal(caught.details.key, key, caught.message);
  assert.ok(caught.message.includes(key), `message does not name ${key}: ${caught.message}`);
  if (why !== undefined) assert.match(caught.message, why);
  return caught.message;
}

describe('k8s_csr agent configuration', () => {
  describe('good configurations', () => {
    it('applies every default to a minimal configuration', () => {
      const c = parse(hcl());
      assert.deepEqual(c, {
        cluster: 'prod',
        kube: { inCluster: false },
        identity: {
          idDir: AGENT_ID_DIR,
          idDirSetting: 'identity_dir',
          nodeName: 'node-1',
          keyType: 'ecdsa-p256',
          expirationSeconds: DEFAULT_EXPIRATION_MS / 1000,
          approvalTimeoutMs: DEFAULT_APPROVAL_TIMEOUT_MS,
          force: false,
        },
        waitMode: 'watch',
      });
      assert.equal(AGENT_ID_DIR, '/var/lib/spire/agent/k8s_csr');
      assert.equal(DEFAULT_EXPIRATION_MS, 3_600_000);
      assert.equal(DEFAULT_APPROVAL_TIMEOUT_MS, 300_000);
    });

    it('reads every key with a good value', () => {
      const c = parse(
        [
          'cluster = "prod-eu.1"',
          'kubeconfig_path = "/etc/k8s/kubeconfig"',
          'kube_context = "spire"',
          'server = "https://10.0.0.1:6443"',
          'ca_cert_path = "/etc/k8s/ca.crt"',
          'client_cert_path = "/etc/k8s/agent.crt"',
          'client_key_path = "/etc/k8s/agent.key"',
          'token_path = "/etc/k8s/token"',
          'in_cluster = false',
          'agent_name = "worker-3.example.com"',
          'key_type = "rsa-3072"',
          'expiration = "2h"',
          'approval_timeout = "90s"',
          'renew_before = "30m"',
          'identity_dir = "/var/lib/spire/id"',
          'wait = "poll"',
        ].join('\n'),
      );
      assert.deepEqual(c, {
        cluster: 'prod-eu.1',
        kube: {
          kubeconfig: '/etc/k8s/kubeconfig',
          context: 'spire',
          server: 'https://10.0.0.1:6443',
          caCert: '/etc/k8s/ca.crt',
          clientCert: '/etc/k8s/agent.crt',
          clientKey: '/etc/k8s/agent.key',
          tokenFile: '/etc/k8s/token',
          inCluster: false,
        },
        identity: {
          idDir: '/var/lib/spire/id',
          idDirSetting: 'identity_dir',
          nodeName: 'worker-3.example.com',
          keyType: 'rsa-3072',
          expirationSeconds: 7_200,
          approvalTimeoutMs: 90_000,
          force: false,
          renewBeforeMs: 1_800_000,
        },
        waitMode: 'poll',
      });
    });

    it('reads the JSON form (a plugin_data_file may be JSON)', () => {
      const c = parse(
        JSON.stringify({
          cluster: 'prod',
          in_cluster: true,
          agent_name: 'node-j',
          key_type: 'ecdsa-p384',
          expiration: '10m',
          approval_timeout: '1s',
          renew_before: '0s',
          identity_dir: '/id',
        }),
      );
      assert.equal(c.cluster, 'prod');
      assert.equal(c.kube.inCluster, true);
      assert.equal(c.identity.nodeName, 'node-j');
      assert.equal(c.identity.keyType, 'ecdsa-p384');
      assert.equal(c.identity.expirationSeconds, 600);
      assert.equal(c.identity.approvalTimeoutMs, 1000);
      assert.equal(c.identity.renewBeforeMs, 0);
      assert.equal(c.identity.idDir, '/id');
    });

    it('reads HCL as spire-agent re-prints it (quoted keys, comments)', () => {
      const c = parse(
        [
          '# the cluster this node belongs to',
          '"cluster" = "prod"',
          '"agent_name" = "node-q" // inline comment',
          '/* block comment */',
          '"in_cluster" = true',
        ].join('\n'),
      );
      assert.equal(c.cluster, 'prod');
      assert.equal(c.identity.nodeName, 'node-q');
      assert.equal(c.kube.inCluster, true);
    });

    it('accepts the RSA and ECDSA key types', () => {
      for (const t of ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const)
        assert.equal(parse(hcl(`key_type = "${t}"`)).identity.keyType, t);
    });
  });

  describe('cluster', () => {
    it('is required and must not be empty', () => {
      refuses('agent_name = "node-1"', 'cluster', /missing required key "cluster"/);
      refuses('cluster = ""\nagent_name = "n"', 'cluster', /cluster: must not be empty/);
    });

    it('must be a valid cluster name', () => {
      refuses('cluster = "a/b"\nagent_name = "n"', 'cluster', /"a\/b" may contain only letters, digits/);
      refuses('cluster = ".."\nagent_name = "n"', 'cluster', /must not be "\.\."/);
      refuses('cluster = "two words"\nagent_name = "n"', 'cluster', /may contain only/);
      refuses(`cluster = "${'c'.repeat(254)}"\nagent_name = "n"`, 'cluster', /at most 253 characters/);
      assert.equal(parse(`cluster = "${'c'.repeat(253)}"\nagent_name = "n"`).cluster.length, 253);
      // Segment characters beyond DNS names are fine: it is a SPIFFE ID path segment.
      assert.equal(parse('cluster = "Prod_EU-1.x"\nagent_name = "n"').cluster, 'Prod_EU-1.x');
    });

    it('must be a string', () => {
      refuses('cluster = 5\nagent_name = "n"', 'cluster', /expected a string, got the number 5/);
      refuses('cluster = true\nagent_name = "n"', 'cluster', /expected a string, got the boolean true/);
      refuses('cluster = ["a"]\nagent_name = "n"', 'cluster', /expected a string, got a list/);
    });
  });

  describe('unknown keys and wrong types', () => {
    it('refuses an unknown key (a typo) by name, listing the known ones', () => {
      const m = refuses(hcl('identity_dri = "/x"'), 'identity_dri', /unknown key "identity_dri"/);
      assert.match(m, /known keys: .*identity_dir/);
      refuses(hcl('client_cert = "/x"'), 'client_cert', /unknown key/);
      refuses(JSON.stringify({ cluster: 'a', agent_name: 'n', Cluster: 'b' }), 'Cluster', /unknown key/);
    });

    it('refuses a number or a bool where a string belongs', () => {
      for (const key of [
        'kubeconfig_path',
        'kube_context',
        'server',
        'ca_cert_path',
        'token_path',
        'key_type',
        'identity_dir',
        'agent_name_env',
        'wait',
      ])
        refuses(hcl(`${key} = 5`), key, /expected a string, got the number 5/);
      refuses('cluster = "a"\nagent_name = 7', 'agent_name', /expected a string/);
      refuses(hcl('server = false'), 'server', /expected a string, got the boolean false/);
    });

    it('refuses a string where a bool belongs', () => {
      refuses(hcl('in_cluster = "true"'), 'in_cluster', /expected true or false, got the string "true"/);
      refuses(hcl('in_cluster = 1'), 'in_cluster', /expected true or false, got the number 1/);
    });

    it('refuses empty paths and names instead of reading them as "not given"', () => {
      for (const key of [
        'kubeconfig_path',
        'kube_context',
        'server',
        'ca_cert_path',
        'token_path',
        'identity_dir',
        'agent_name_env',
        'key_type',
      ])
        refuses(hcl(`${key} = ""`), key, /must not be empty/);
      refuses(
        hcl('client_cert_path = ""', 'client_key_path = "/k"'),
        'client_cert_path',
        /must not be empty/,
      );
      refuses(hcl('client_cert_path = "/c"', 'client_key_path = ""'), 'client_key_path', /must not be empty/);
      refuses('cluster = "a"\nagent_name = ""', 'agent_name', /must not be empty/);
    });
  });

  describe('Kubernetes access keys', () => {
    it('needs client_cert_path and client_key_path together', () => {
      refuses(hcl('client_cert_path = "/c"'), 'client_key_path', /must be given together/);
      refuses(hcl('client_key_path = "/k"'), 'client_cert_path', /must be given together/);
    });

    it('refuses in_cluster with kubeconfig_path or server', () => {
      refuses(hcl('in_cluster = true', 'kubeconfig_path = "/k"'), 'in_cluster', /kubeconfig_path or server/);
      refuses(
        hcl('in_cluster = true', 'server = "https://k:6443"'),
        'in_cluster',
        /kubeconfig_path or server/,
      );
      // Without either it is fine, as is in_cluster = false with both.
      assert.equal(parse(hcl('in_cluster = true', 'ca_cert_path = "/ca"')).kube.inCluster, true);
      const c = parse(hcl('in_cluster = false', 'kubeconfig_path = "/k"', 'server = "https://k:6443"'));
      assert.deepEqual(c.kube, { kubeconfig: '/k', server: 'https://k:6443', inCluster: false });
    });
  });

  describe('node name', () => {
    it('refuses agent_name values that are not node names', () => {
      for (const bad of ['Bad_Name', 'a/b', '..', 'UPPER', '-leading', 'trailing-', 'a..b', 'x'.repeat(254)])
        refuses(
          `cluster = "a"\nagent_name = ${JSON.stringify(bad)}`,
          'agent_name',
          /is not a valid node name/,
        );
      assert.equal(parse(`cluster = "a"\nagent_name = "${'x'.repeat(253)}"`).identity.nodeName.length, 253);
    });

    it('refuses agent_name together with agent_name_env', () => {
      refuses(
        hcl('agent_name_env = "MY_NODE_NAME"'),
        'agent_name_env',
        /agent_name or agent_name_env, not both/,
        {
          MY_NODE_NAME: 'node-2',
        },
      );
    });

    it('takes the name from agent_name_env, refusing an unset, empty or invalid variable', () => {
      const base = 'cluster = "a"\nagent_name_env = "MY_NODE_NAME"';
      assert.equal(parse(base, { MY_NODE_NAME: 'node-7.example' }).identity.nodeName, 'node-7.example');
      refuses(base, 'agent_name_env', /environment variable MY_NODE_NAME is not set/, {});
      refuses(base, 'agent_name_env', /environment variable MY_NODE_NAME is not set/, { MY_NODE_NAME: '' });
      refuses(base, 'agent_name_env', /"Node_7" is not a valid node name/, { MY_NODE_NAME: 'Node_7' });
      // The env parameter is what counts, not this process's environment.
      process.env.K8S_CSR_TEST_NODE_NAME = 'from-process';
      try {
        refuses(
          'cluster = "a"\nagent_name_env = "K8S_CSR_TEST_NODE_NAME"',
          'agent_name_env',
          /is not set/,
          {},
        );
      } finally {
        delete process.env.K8S_CSR_TEST_NODE_NAME;
      }
    });

    it('defaults to the host name, lower-cased as the kubelet does', (t) => {
      const expected = hostname().trim().toLowerCase();
      if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(expected) || expected.length > 253) {
        t.skip(`host name ${JSON.stringify(hostname())} is not a valid node name`);
        return;
      }
      assert.equal(parse('cluster = "a"').identity.nodeName, expected);
    });
  });

  describe('key_type', () => {
    it('refuses an unknown key type, listing the supported ones', () => {
      refuses(
        hcl('key_type = "dsa"'),
        'key_type',
        /"dsa" is not a supported key type; use one of: ecdsa-p256/,
      );
      refuses(hcl('key_type = "ECDSA-P256"'), 'key_type', /is not a supported key type/);
    });

    it('refuses ed25519: x509pop proof of possession needs RSA or ECDSA', () => {
      refuses(hcl('key_type = "ed25519"'), 'key_type', /"ed25519" cannot sign the x509pop challenge/);
    });
  });

  describe('durations', () => {
    it('expiration: at least 10m, a duration string, within spec.expirationSeconds', () => {
      assert.equal(parse(hcl('expiration = "10m"')).identity.expirationSeconds, 600);
      assert.equal(parse(hcl('expiration = "24h"')).identity.expirationSeconds, 86400);
      refuses(hcl('expiration = "9m59s"'), 'expiration', /must be at least 10m0s, got "9m59s"/);
      refuses(hcl('expiration = "0s"'), 'expiration', /must be at least 10m0s/);
      refuses(hcl('expiration = "-1h"'), 'expiration', /must be at least 10m0s/);
      refuses(
        hcl('expiration = "soon"'),
        'expiration',
        /expected a duration string .* got the string "soon"/,
      );
      refuses(hcl('expiration = "1d"'), 'expiration', /expected a duration string/);
      refuses(hcl('expiration = 3600'), 'expiration', /expected a duration string .* got the number 3600/);
      // More than an int32 of seconds would fail every CSR (and only at attestation time).
      refuses(hcl('expiration = "1000000h"'), 'expiration', /must be at most 596523h14m7s/);
    });

    it('approval_timeout: at least 1s, at most a week (longer timers fire at once in Node)', () => {
      assert.equal(parse(hcl('approval_timeout = "1s"')).identity.approvalTimeoutMs, 1000);
      assert.equal(parse(hcl('approval_timeout = "168h"')).identity.approvalTimeoutMs, 604_800_000);
      refuses(hcl('approval_timeout = "999ms"'), 'approval_timeout', /must be at least 1s/);
      refuses(hcl('approval_timeout = "600h"'), 'approval_timeout', /must be at most 168h0m0s, got "600h"/);
      refuses(hcl('approval_timeout = "5 minutes"'), 'approval_timeout', /expected a duration string/);
      refuses(hcl('approval_timeout = true'), 'approval_timeout', /expected a duration string/);
    });

    it('renew_before: a duration shorter than expiration', () => {
      assert.equal(parse(hcl('renew_before = "59m"')).identity.renewBeforeMs, 3_540_000);
      assert.equal(
        parse(hcl('expiration = "2h"', 'renew_before = "1h30m"')).identity.renewBeforeMs,
        5_400_000,
      );
      // Against the default expiration (1h).
      refuses(hcl('renew_before = "1h"'), 'renew_before', /renew_before must be shorter than expiration/);
      refuses(hcl('expiration = "2h"', 'renew_before = "3h"'), 'renew_before', /shorter than expiration/);
      refuses(hcl('renew_before = "-5m"'), 'renew_before', /must be at least 0s/);
      refuses(hcl('renew_before = "later"'), 'renew_before', /expected a duration string/);
    });
  });

  describe('wait', () => {
    it('is "watch" (the default) or "poll"; anything else is refused, listing both', () => {
      assert.equal(parse(hcl()).waitMode, 'watch');
      assert.equal(parse(hcl('wait = "watch"')).waitMode, 'watch');
      assert.equal(parse(hcl('wait = "poll"')).waitMode, 'poll');
      assert.equal(parse(JSON.stringify({ cluster: 'a', agent_name: 'n', wait: 'poll' })).waitMode, 'poll');
      refuses(
        hcl('wait = "list"'),
        'wait',
        /^invalid plugin configuration: wait: must be one of "watch", "poll", got "list"$/,
      );
      refuses(hcl('wait = "Poll"'), 'wait', /got "Poll"/);
      refuses(hcl('wait = ""'), 'wait', /must be one of "watch", "poll", got ""/);
      refuses(hcl('wait = true'), 'wait', /expected a string, got the boolean true/);
    });
  });

  describe('identity_dir', () => {
    it('defaults to /var/lib/spire/agent/k8s_csr (not under /tmp) and takes any non-empty path', () => {
      assert.equal(parse(hcl()).identity.idDir, '/var/lib/spire/agent/k8s_csr');
      assert.equal(parse(hcl('identity_dir = "/run/spire/node id"')).identity.idDir, '/run/spire/node id');
      refuses(hcl('identity_dir = ""'), 'identity_dir', /must not be empty/);
    });
  });

  it('refuses configuration text that does not parse', () => {
    for (const text of ['cluster = ', 'cluster "a"', '{"cluster": "a"', 'cluster = "unterminated']) {
      let caught: unknown;
      try {
        parseAgentConfig(text, {});
      } catch (err) {
        caught = err;
      }
      assert.ok(isAttestorError(caught, 'ERR_CONFIG'), `${text}: ${String(caught)}`);
      assert.match(caught.message, /invalid plugin configuration/);
    }
  });
});

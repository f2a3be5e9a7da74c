/**
 * What the real-SPIRE e2e suites share: a work dir of fresh sub-directories, the agent plugin's
 * plugin_data for a control plane, the test-only rogue agent plugin (built once per suite), and
 * the two outcomes every test checks — an agent refused with PermissionDenied and its reason
 * (logged by spire-server too), or an agent attested and listed.
 */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT } from '../../harness/bins.js';
import type { ControlPlane } from '../../harness/control-plane.js';
import { ourPlugin, startSpireAgent, type AttestedAgent, type SpireServer } from '../../harness/spire.js';
import type { TestCert } from '../../support/pki.js';

export const DIST = join(REPO_ROOT, 'dist');
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface AgentCredential {
  readonly certPath: string;
  readonly keyPath: string;
}

/** Our agent plugin's plugin_data for a control plane, authenticating as `cred`. */
export function agentData(
  cp: ControlPlane,
  cred: AgentCredential,
  node: string,
  idDir: string,
  extra: { cluster?: string; lines?: readonly string[] } = {},
): string {
  return [
    `cluster = "${extra.cluster ?? 'test'}"`,
    `kubeconfig_path = "${cp.adminKubeconfig}"`,
    `ca_cert_path = "${cp.pki.caCertPath}"`,
    `client_cert_path = "${cred.certPath}"`,
    `client_key_path = "${cred.keyPath}"`,
    `agent_name = "${node}"`,
    `identity_dir = "${idDir}"`,
    ...(extra.lines ?? []),
  ].join('\n');
}

/** Bundles test/support/rogue-agent-plugin.ts into `dir`, as plugin_cmd wants one executable file. */
export async function buildRoguePlugin(dir: string): Promise<string> {
  const out = join(dir, 'rogue-agent-plugin.mjs');
  await build({
    entryPoints: [join(REPO_ROOT, 'test/support/rogue-agent-plugin.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  chmodSync(out, 0o755);
  return out;
}

export class SpireScenario {
  private n = 0;

  constructor(
    readonly work: string,
    readonly server: SpireServer,
    readonly rogueBundle: string,
  ) {}

  /** A fresh sub-directory name under the work dir. */
  dir(what: string): string {
    this.n += 1;
    return join(this.work, `${what}-${String(this.n)}`);
  }

  /** Writes a test certificate and its key; returns their paths. */
  writeCert(c: TestCert, name: string): { cert: string; key: string } {
    const cert = join(this.work, `${name}.crt`);
    const key = join(this.work, `${name}.key`);
    writeFileSync(cert, c.pem);
    writeFileSync(key, c.key.privateKeyPem, { mode: 0o600 });
    return { cert, key };
  }

  /** HCL for the rogue agent plugin registered as k8s_csr. */
  rogue(o: { cert: string; key: string; cluster?: string; replay?: string }): string {
    return `  NodeAttestor "k8s_csr" {
    plugin_cmd = "${this.rogueBundle}"
    plugin_data {
      certificate_path = "${o.cert}"
      private_key_path = "${o.key}"
      ${o.cluster !== undefined ? `cluster = "${o.cluster}"` : ''}
      ${o.replay !== undefined ? `replay_file = "${o.replay}"` : ''}
    }
  }`;
  }

  /** HCL for our agent plugin registered as k8s_csr. */
  ours(data: string): string {
    return ourPlugin('agent', 'k8s_csr', data, DIST);
  }

  /** Runs an agent that must be refused: it exits (PermissionDenied stops spire-agent at once). */
  /**
   * `reason` is what the agent is told; `logged` what spire-server's log shows (the plugin's own
   * line carries the full reason where the agent gets only the failed check: before proof of
   * possession, no cluster facts go to the caller).
   */
  async expectRefused(nodeAttestor: string, reason: RegExp, logged: RegExp = reason): Promise<void> {
    const serverLogBefore = this.server.log().length;
    const agent = startSpireAgent(this.dir('refused'), this.server, { nodeAttestor });
    const exit = await Promise.race([agent.process.exited, sleep(30_000).then(() => undefined)]);
    if (exit === undefined) {
      await agent.stop();
      assert.fail(`spire-agent was not refused within 30 s:\n${agent.process.tail(15)}`);
    }
    assert.notEqual(exit.code, 0);
    const refusal =
      /level=error msg="Agent crashed" error="failed to receive attestation response: rpc error: code = (\w+) desc = (.*)"$/m.exec(
        agent.log(),
      );
    assert.ok(refusal, `spire-agent reported no refusal:\n${agent.process.tail(8)}`);
    assert.equal(refusal[1], 'PermissionDenied', refusal[2]);
    assert.ok(reason.test(refusal[2] ?? ''), `reason ${String(reason)} not in: ${refusal[2] ?? ''}`);
    // spire-server relays the plugin's stderr on its own time, which can be after the agent exits.
    for (let i = 0; i < 100 && !logged.test(this.server.log().slice(serverLogBefore)); i++) await sleep(100);
    assert.ok(
      logged.test(this.server.log().slice(serverLogBefore)),
      `spire-server did not log ${String(logged)}`,
    );
  }

  /** An agent with `nodeAttestor` attests, gets its SVID, and is listed under `path`. */
  async expectAttests(nodeAttestor: string, path: string): Promise<AttestedAgent> {
    const agent = startSpireAgent(this.dir('good'), this.server, { nodeAttestor });
    try {
      await agent.waitHealthy();
      const found = (await this.server.agents()).find((a) => a.id.path === path);
      assert.ok(found, `agent ${path} is listed`);
      return found;
    } finally {
      await agent.stop();
    }
  }
}

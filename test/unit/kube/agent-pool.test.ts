import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPrivateKey } from 'node:crypto';
import type { KubeClientIdentity, KubeTls } from '../../../src/kube/access.js';
import { AgentPool } from '../../../src/kube/agent-pool.js';
import { Secret } from '../../../src/kube/secret.js';
import { createCa } from '../../support/pki.js';

describe('AgentPool', () => {
  const tls: KubeTls = { pinned: [], caSource: 'the system trust store', insecureSkipTlsVerify: false };
  const id = async (name: string): Promise<KubeClientIdentity> => {
    const c = await createCa(`CN=${name}`);
    return {
      certPem: c.pem,
      key: new Secret(createPrivateKey(c.key.privateKeyPem)),
      subject: `CN=${name}`,
      source: 'test',
    };
  };

  it('keeps one agent per identity; a new identity retires the old agent once its last request ends', async () => {
    const b1 = await id('b');
    const b2: KubeClientIdentity = { ...b1, key: new Secret(b1.key.reveal()) };
    const pool = new AgentPool(tls, { connectTimeoutMs: 1000 });
    const a1 = pool.acquire(undefined);
    const a2 = pool.acquire(undefined);
    assert.equal(a1.agent, a2.agent);
    a2.release();
    assert.equal(pool.size, 1);
    const b = pool.acquire(b1);
    assert.notEqual(b.agent, a1.agent);
    assert.equal(pool.size, 2, 'the old agent lives while a request uses it');
    a1.release();
    a1.release();
    assert.equal(pool.size, 1);
    assert.equal(pool.acquire(b2).agent, b.agent, 'the same certificate reuses the agent');
    pool.close();
    assert.equal(pool.size, 0);
  });
});

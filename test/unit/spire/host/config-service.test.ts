import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { AttestorError, isAttestorError } from '../../../../src/errors.js';
import { ConfigGate, trustDomainOf } from '../../../../src/spire/host/config-service.js';
import { ConfigReader } from '../../../../src/spire/host/config-reader.js';
import type { ConfigureInput, ServerNodeAttestor, ValidateResult } from '../../../../src/spire/host/types.js';
import { rawClient, rawUnary, sleep, startInProcess } from '../../../support/in-process-plugin.js';

class RecordingAttestor implements ServerNodeAttestor {
  inputs: ConfigureInput[] = [];
  running = 0;
  maxRunning = 0;
  validateResult: ValidateResult | undefined;

  async configure(input: ConfigureInput): Promise<void> {
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      const r = ConfigReader.parse(input.hcl);
      const delay = r.optionalDuration('delay') ?? 0;
      r.optionalString('ca_bundle_path');
      r.done();
      await sleep(delay);
      this.inputs.push(input);
    } finally {
      this.running--;
    }
  }

  attest(): never {
    throw new Error('unused');
  }
}

class ValidatingAttestor extends RecordingAttestor {
  validate(): Promise<ValidateResult> {
    return Promise.resolve(this.validateResult ?? { valid: true, notes: ['looks fine'] });
  }
}

const invalidArgument = (re: RegExp) => (e: ServiceError) => {
  assert.equal(e.code, status.INVALID_ARGUMENT);
  assert.match(e.details, re);
  return true;
};

describe('Config/Configure', () => {
  it('passes the trust domain and the raw text, and marks the plugin configured', async () => {
    const a = new RecordingAttestor();
    const p = await startInProcess({ side: 'server', attestor: a });
    try {
      assert.equal(p.handle.configured(), false);
      await p.host.configure('example.org', 'ca_bundle_path = "/x"');
      assert.deepEqual(a.inputs, [{ trustDomain: 'example.org', hcl: 'ca_bundle_path = "/x"' }]);
      assert.equal(p.handle.configured(), true);
      assert.ok(p.logs().some((l) => l['@message'] === 'Configured' && l.trust_domain === 'example.org'));
    } finally {
      await p.close();
    }
  });

  it('refuses bad configuration with InvalidArgument naming the key, and stays unconfigured', async () => {
    const a = new RecordingAttestor();
    const p = await startInProcess({ side: 'server', attestor: a });
    try {
      await assert.rejects(
        p.host.configure('example.org', 'ca_bundle_pth = "/x"'),
        invalidArgument(/unknown key "ca_bundle_pth"/),
      );
      await assert.rejects(
        p.host.configure('example.org', 'ca_bundle_path = '),
        invalidArgument(/1:18: expected a value/),
      );
      await assert.rejects(
        p.host.configure('', ''),
        invalidArgument(/^core configuration must contain trust_domain$/),
      );
      await assert.rejects(
        p.host.configure('Example.ORG', ''),
        invalidArgument(/trust_domain "Example.ORG" is malformed/),
      );
      assert.equal(p.handle.configured(), false);
      const line = p.logs().find((l) => l['@message'] === 'Configure failed');
      assert.equal(line?.['@level'], 'error');
      assert.equal(line.code, 'ERR_CONFIG');
    } finally {
      await p.close();
    }
  });

  it('serializes Configure calls and stays configured when a later one fails', async () => {
    const a = new RecordingAttestor();
    const p = await startInProcess({ side: 'server', attestor: a });
    try {
      await Promise.all([
        p.host.configure('example.org', 'delay = "60ms"\nca_bundle_path = "/1"'),
        p.host.configure('example.org', 'delay = "10ms"\nca_bundle_path = "/2"'),
        p.host.configure('example.org', 'ca_bundle_path = "/3"'),
      ]);
      assert.equal(a.maxRunning, 1);
      assert.deepEqual(
        a.inputs.map((i) => i.hcl.slice(-3)),
        ['/1"', '/2"', '/3"'],
      );
      await assert.rejects(p.host.configure('example.org', 'nope = 1'));
      assert.equal(p.handle.configured(), true);
    } finally {
      await p.close();
    }
  });

  it('answers a malformed request with InvalidArgument', async () => {
    const p = await startInProcess({ side: 'server', attestor: new RecordingAttestor() });
    try {
      const client = rawClient(p.handle.socketPath);
      await assert.rejects(
        rawUnary(client, '/spire.service.common.config.v1.Config/Configure', Buffer.from([0x12, 0x09, 0x41])),
        (e: ServiceError) => e.code === status.INVALID_ARGUMENT,
      );
      client.close();
    } finally {
      await p.close();
    }
  });
});

describe('Config/Validate', () => {
  it("without the attestor's own check, checks the trust domain and the syntax", async () => {
    const p = await startInProcess({ side: 'server', attestor: new RecordingAttestor() });
    try {
      assert.deepEqual(await p.host.validate('example.org', 'a = 1'), { valid: true, notes: [] });
      await assert.rejects(p.host.validate('example.org', 'a = '), invalidArgument(/expected a value/));
      await assert.rejects(p.host.validate('', 'a = 1'), invalidArgument(/trust_domain/));
      assert.equal(p.handle.configured(), false);
    } finally {
      await p.close();
    }
  });

  it("uses the attestor's validate: notes when valid, InvalidArgument with the notes when not", async () => {
    const a = new ValidatingAttestor();
    const p = await startInProcess({ side: 'server', attestor: a });
    try {
      assert.deepEqual(await p.host.validate('example.org', ''), { valid: true, notes: ['looks fine'] });
      a.validateResult = { valid: false, notes: ['ca_bundle_path is required', 'another problem'] };
      await assert.rejects(
        p.host.validate('example.org', ''),
        invalidArgument(/^ca_bundle_path is required; another problem$/),
      );
      a.validateResult = { valid: false, notes: [] };
      await assert.rejects(p.host.validate('example.org', ''), invalidArgument(/^invalid configuration$/));
    } finally {
      await p.close();
    }
  });
});

describe('ConfigGate and trustDomainOf', () => {
  it('throws ERR_NOT_CONFIGURED until marked', () => {
    const g = new ConfigGate();
    assert.throws(
      () => {
        g.requireConfigured();
      },
      (e: unknown) => isAttestorError(e, 'ERR_NOT_CONFIGURED') && e.message === 'not configured',
    );
    g.markConfigured();
    g.requireConfigured();
    assert.equal(g.configured, true);
  });

  it('accepts SPIRE trust domain names only', () => {
    assert.equal(trustDomainOf({ trustDomain: 'example.org' }), 'example.org');
    assert.equal(trustDomainOf({ trustDomain: 'a-b_c.9' }), 'a-b_c.9');
    for (const bad of [
      undefined,
      { trustDomain: '' },
      { trustDomain: 'spiffe://x' },
      { trustDomain: 'a b' },
      { trustDomain: 'x'.repeat(256) },
    ]) {
      assert.throws(
        () => trustDomainOf(bad),
        (e: unknown) => e instanceof AttestorError && e.code === 'ERR_CONFIG',
      );
    }
  });
});

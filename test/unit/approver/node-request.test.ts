import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as x509 from '@peculiar/x509';
import { inspectNodeClientRequest } from '../../../src/approver/node-request.js';
import { MAX_CSR_REQUEST_BYTES } from '../../../src/x509/limits.js';
import { csrObject, requestPem } from './helpers.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function check(
  pem: string,
  o: Parameters<typeof csrObject>[1] = {},
): ReturnType<typeof inspectNodeClientRequest> {
  return inspectNodeClientRequest(csrObject(pem, o));
}

function problem(r: ReturnType<typeof inspectNodeClientRequest>): string {
  if (r.ok) assert.fail(`expected a problem, got node ${r.nodeName}`);
  return r.problem;
}

describe('inspectNodeClientRequest', () => {
  it('accepts a kubelet-shaped request and returns the node name', async () => {
    assert.deepEqual(check(await requestPem({ node: 'node-a.example' })), {
      ok: true,
      nodeName: 'node-a.example',
    });
  });

  it('accepts both usage sets, in any order, and RSA and Ed25519 keys', async () => {
    const pem = await requestPem({ alg: 'rsa-2048' });
    assert.equal(check(pem, { usages: ['key encipherment', 'client auth', 'digital signature'] }).ok, true);
    assert.equal(
      check(await requestPem({ alg: 'ed25519' }), { usages: ['client auth', 'digital signature'] }).ok,
      true,
    );
  });

  it('accepts an empty extension request attribute (what some tools always send)', async () => {
    const pem = await requestPem({ extensions: [] });
    assert.equal(check(pem).ok, true);
  });

  it('refuses other signers and usage sets', async () => {
    const pem = await requestPem();
    assert.match(
      problem(check(pem, { signerName: 'kubernetes.io/kube-apiserver-client' })),
      /signer kubernetes\.io\/kube-apiserver-client is not/,
    );
    for (const usages of [
      ['digital signature', 'client auth', 'server auth'],
      ['client auth'],
      ['digital signature', 'client auth', 'client auth'],
      ['key encipherment', 'client auth'],
    ])
      assert.match(problem(check(pem, { usages })), /usages .* are not/, usages.join(','));
  });

  it('refuses subjects that are not exactly O=system:nodes, CN=system:node:<name>', async () => {
    const cases: [x509.JsonName | string, RegExp][] = [
      [
        [{ O: ['system:masters'] }, { CN: ['system:node:node-a'] }],
        /O=system:masters, CN=system:node:node-a is not exactly/,
      ],
      [[{ CN: ['system:node:node-a'] }, { O: ['system:nodes'] }], /is not exactly/],
      [[{ O: ['system:nodes'] }, { O: ['extra'] }, { CN: ['system:node:node-a'] }], /is not exactly/],
      [[{ O: ['system:nodes'], CN: ['system:node:node-a'] }], /is not exactly/],
      [[{ O: ['system:nodes'] }, { CN: ['node-a'] }], /is not exactly/],
      [[{ O: ['system:nodes'] }, { CN: ['system:node:'] }], /is not exactly/],
      [[{ O: ['system:nodes'] }, { CN: ['system:node:Node_A'] }], /"Node_A", which is not a valid node name/],
      [[{ O: ['system:nodes'] }, { CN: ['system:node:a/../b'] }], /not a valid node name/],
    ];
    for (const [name, re] of cases)
      assert.match(problem(check(await requestPem({ name }))), re, JSON.stringify(name));
  });

  it('refuses any extension (SANs included) and any other attribute', async () => {
    const san = new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'node-b' }]);
    assert.match(
      problem(check(await requestPem({ extensions: [san] }))),
      /extensions a kubelet never sends \(2\.5\.29\.17\)/,
    );
    const pw = new x509.ChallengePasswordAttribute('secret');
    assert.match(
      problem(check(await requestPem({ attributes: [pw] }))),
      /attributes a kubelet never sends: 1\.2\.840\.113549\.1\.9\.7/,
    );
  });

  it('refuses a spec.request that is not one PEM CERTIFICATE REQUEST of a parsable PKCS#10', async () => {
    const pem = await requestPem();
    assert.match(problem(check(pem, { request: 'not base64!' })), /not base64/);
    assert.match(problem(check(pem, { request: '' })), /not base64/);
    assert.match(problem(check(pem, { request: b64('hello') })), /not exactly one PEM CERTIFICATE REQUEST/);
    assert.match(problem(check(pem, { request: b64(pem + pem) })), /not exactly one PEM/);
    assert.match(
      problem(check(pem, { request: b64(pem.replaceAll('CERTIFICATE REQUEST', 'CERTIFICATE')) })),
      /not exactly one PEM CERTIFICATE REQUEST/,
    );
    assert.match(
      problem(
        check(pem, {
          request: b64('-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n'),
        }),
      ),
      /the PEM body is not base64/,
    );
    const junk = `-----BEGIN CERTIFICATE REQUEST-----\n${Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]).toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    assert.match(problem(check(pem, { request: b64(junk) })), /cannot be parsed/);
  });

  it('refuses a valid request followed by ~1 MiB of unterminated BEGIN lines: spec.request is too large', async () => {
    const pem = await requestPem();
    const hostile = pem + '-----BEGIN CERTIFICATE REQUEST-----\n'.repeat(30_000);
    const request = b64(hostile);
    assert.ok(request.length > 1024 * 1024);
    assert.equal(
      problem(check(pem, { request })),
      `spec.request is ${request.length} bytes; the limit is 16 KiB (a node client request is under 3 KiB)`,
    );
    // The same request without the junk is fine, and so is one just under the limit.
    assert.equal(check(pem).ok, true);
    const padded = pem + ' '.repeat(MAX_CSR_REQUEST_BYTES * 0.75 - pem.length - 3);
    assert.ok(b64(padded).length <= MAX_CSR_REQUEST_BYTES);
    assert.equal(check(pem, { request: b64(padded) }).ok, true);
  });
});

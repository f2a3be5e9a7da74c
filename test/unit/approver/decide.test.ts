import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decide,
  isSettled,
  triage,
  type Decision,
  type DecideOptions,
} from '../../../src/approver/decide.js';
import type { Lookups, NodeFacts, PodFacts } from '../../../src/approver/lookups.js';
import { APPROVER_DEFAULTS as DEFAULTS } from '../../../src/approver/settings.js';
import { requesterBinding, serviceAccountOf } from '../../../src/approver/requester.js';
import { AttestorError } from '../../../src/errors.js';
import { AGENT, csrObject, extraFor, requestPem, type Binding } from './helpers.js';

const NODE_A: NodeFacts = { name: 'node-a', uid: 'uid-node-a', deleting: false };

function lookups(nodes: NodeFacts[] = [NODE_A], pods: PodFacts[] = []): Lookups & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    getNode: (name) => {
      calls.push(`node ${name}`);
      return Promise.resolve(nodes.find((n) => n.name === name));
    },
    getPod: (ns, name) => {
      calls.push(`pod ${ns}/${name}`);
      return Promise.resolve(pods.find((p) => p.namespace === ns && p.name === name));
    },
  };
}

const POD_BOUND: Binding = {
  nodeName: 'node-a',
  nodeUid: 'uid-node-a',
  podName: 'agent-a',
  podUid: 'uid-pod-a',
  credentialId: 'JTI=1',
};

async function run(
  binding: Binding,
  o: {
    node?: string;
    username?: string;
    opts?: Partial<DecideOptions>;
    look?: Lookups;
    expirationSeconds?: number | null;
  } = {},
): Promise<Decision> {
  const pem = await requestPem({ node: o.node ?? 'node-a' });
  return decide(
    csrObject(pem, {
      extra: extraFor(binding),
      ...(o.username === undefined ? {} : { username: o.username }),
      ...(o.expirationSeconds === undefined ? {} : { expirationSeconds: o.expirationSeconds }),
    }),
    {
      lookups: o.look ?? lookups(),
      allowNodeBoundTokens: false,
      podLookup: true,
      maxExpirationMs: DEFAULTS.maxExpirationMs,
      ...o.opts,
    },
  );
}

describe('serviceAccountOf / requesterBinding', () => {
  it('reads service-account user names', () => {
    assert.deepEqual(serviceAccountOf('system:serviceaccount:spire:spire-agent'), {
      namespace: 'spire',
      name: 'spire-agent',
    });
    for (const u of [
      'spire-agent',
      'system:serviceaccount:',
      'system:serviceaccount:spire',
      'system:serviceaccount:spire:',
      'system:serviceaccount::x',
      'system:serviceaccount:a:b:c',
    ])
      assert.equal(serviceAccountOf(u), undefined, u);
  });

  it('takes each binding key with exactly one value, and refuses anything else', () => {
    const ok = requesterBinding(csrObject('', { extra: extraFor(POD_BOUND) }));
    assert.deepEqual(ok, {
      ok: true,
      binding: {
        username: AGENT,
        serviceAccount: { namespace: 'spire', name: 'spire-agent' },
        nodeName: 'node-a',
        nodeUid: 'uid-node-a',
        podName: 'agent-a',
        podUid: 'uid-pod-a',
        credentialId: 'JTI=1',
      },
    });
    const two = requesterBinding(
      csrObject('', { extra: { 'authentication.kubernetes.io/node-name': ['a', 'b'] } }),
    );
    assert.deepEqual(two, {
      ok: false,
      problem: 'spec.extra[authentication.kubernetes.io/node-name] has 2 values, expected one',
    });
    assert.equal(
      requesterBinding(csrObject('', { extra: { 'authentication.kubernetes.io/pod-name': [''] } })).ok,
      false,
    );
    assert.deepEqual(requesterBinding(csrObject('', { username: 'alice' })), {
      ok: true,
      binding: { username: 'alice' },
    });
  });
});

describe('triage', () => {
  const allow = new Set([AGENT]);
  it('owns pending node-client CSRs of allow-listed requesters only', () => {
    assert.deepEqual(triage(csrObject(''), allow), { kind: 'own' });
    assert.deepEqual(triage(csrObject('', { username: 'someone' }), allow), {
      kind: 'ignore',
      why: 'requester',
    });
    assert.deepEqual(triage(csrObject('', { signerName: 'example.com/x' }), allow), {
      kind: 'ignore',
      why: 'signer',
    });
    for (const type of ['Approved', 'Denied', 'Failed']) {
      const c = csrObject('', { conditions: [{ type, status: 'True' }] });
      assert.equal(isSettled(c), true);
      assert.deepEqual(triage(c, allow), { kind: 'ignore', why: 'decided' });
    }
    assert.deepEqual(triage(csrObject('', { certificate: 'Y2VydA==' }), allow), {
      kind: 'ignore',
      why: 'decided',
    });
    assert.equal(
      isSettled(csrObject('', { conditions: [{ type: 'SomethingElse', status: 'True' }] })),
      false,
    );
  });
});

describe('decide', () => {
  it('approves when the CN names the node of the pod the token is bound to, and the Node matches', async () => {
    const d = await run(POD_BOUND);
    assert.equal(d.kind, 'approve');
    assert.equal(d.reason, 'NodeBindingVerified');
    assert.match(
      d.message,
      /CN names node node-a, the node of the requester's token bound to pod spire\/agent-a on node node-a; node UID uid-node-a/,
    );
  });

  it('denies a CSR without spec.expirationSeconds: NoExpiration, before reading anything', async () => {
    const look = lookups();
    const d = await run(POD_BOUND, { expirationSeconds: null, look });
    assert.deepEqual(d, {
      kind: 'deny',
      reason: 'NoExpiration',
      message:
        'spec.expirationSeconds is not set, so the signer would issue its maximum lifetime; the limit is 4h0m0s (-max-expiration)',
    });
    assert.deepEqual(look.calls, []);
  });

  it('denies a lifetime above -max-expiration: ExpirationTooLong; accepts up to it', async () => {
    const year = await run(POD_BOUND, { expirationSeconds: 365 * 86400 });
    assert.deepEqual(year, {
      kind: 'deny',
      reason: 'ExpirationTooLong',
      message: 'spec.expirationSeconds is 31536000 (8760h0m0s); the limit is 4h0m0s (-max-expiration)',
    });
    assert.equal((await run(POD_BOUND, { expirationSeconds: 4 * 3600 + 1 })).reason, 'ExpirationTooLong');
    assert.equal((await run(POD_BOUND, { expirationSeconds: 4 * 3600 })).kind, 'approve');
    assert.equal((await run(POD_BOUND, { expirationSeconds: 600 })).kind, 'approve');
    // Our agents' default (1h) is approved under the default limit; a tighter limit denies it.
    assert.equal((await run(POD_BOUND)).kind, 'approve');
    const tight = await run(POD_BOUND, { opts: { maxExpirationMs: 30 * 60_000 } });
    assert.equal(tight.reason, 'ExpirationTooLong');
    assert.match(tight.message, /is 3600 \(1h0m0s\); the limit is 30m0s \(-max-expiration\)$/);
  });

  it('denies another node name: NodeMismatch', async () => {
    const look = lookups([NODE_A, { name: 'node-b', uid: 'u-b', deleting: false }]);
    const d = await run(POD_BOUND, { node: 'node-b', look });
    assert.deepEqual(d, {
      kind: 'deny',
      reason: 'NodeMismatch',
      message: "CN names node node-b but the requester's token bound to pod spire/agent-a on node node-a",
    });
    assert.deepEqual(look.calls, [], 'decided without reading anything');
  });

  it('denies a request that is not a node client request before anything else', async () => {
    const pem = await requestPem({ name: [{ O: ['system:masters'] }, { CN: ['system:node:node-a'] }] });
    const d = await decide(csrObject(pem, { extra: extraFor(POD_BOUND) }), {
      lookups: lookups(),
      allowNodeBoundTokens: false,
      podLookup: true,
      maxExpirationMs: DEFAULTS.maxExpirationMs,
    });
    assert.equal(d.kind, 'deny');
    assert.equal(d.reason, 'NotNodeClientRequest');
    assert.match(d.message, /^not a node client request: subject O=system:masters/);
  });

  it('denies a credential with no binding, and ambiguous extras: NoNodeBinding', async () => {
    const d = await run({ credentialId: 'JTI=2' });
    assert.equal(d.reason, 'NoNodeBinding');
    assert.match(d.message, /spec\.extra has no authentication\.kubernetes\.io\/node-name and no .*pod-name/);
    const noLookup = await run({}, { opts: { podLookup: false } });
    assert.equal(noLookup.reason, 'NoNodeBinding');
    assert.doesNotMatch(noLookup.message, /pod-name/);
    // Pod facts but no service-account user to find the namespace with.
    assert.equal((await run({ podName: 'p', podUid: 'u' }, { username: 'alice' })).reason, 'NoNodeBinding');
    const pem = await requestPem();
    const ambiguous = await decide(
      csrObject(pem, { extra: { 'authentication.kubernetes.io/node-name': ['node-a', 'node-b'] } }),
      {
        lookups: lookups(),
        allowNodeBoundTokens: true,
        podLookup: true,
        maxExpirationMs: DEFAULTS.maxExpirationMs,
      },
    );
    assert.equal(ambiguous.reason, 'NoNodeBinding');
  });

  it('refuses node-bound tokens unless allowed: NoPodBinding', async () => {
    const nodeBound = { nodeName: 'node-a', nodeUid: 'uid-node-a' };
    const d = await run(nodeBound);
    assert.equal(d.reason, 'NoPodBinding');
    const allowed = await run(nodeBound, { opts: { allowNodeBoundTokens: true } });
    assert.equal(allowed.kind, 'approve');
    assert.match(allowed.message, /token bound to node node-a;/);
  });

  it('checks the Node: missing, re-created (UID), being deleted', async () => {
    assert.equal((await run(POD_BOUND, { look: lookups([]) })).reason, 'NodeNotFound');
    const recreated = await run(POD_BOUND, { look: lookups([{ ...NODE_A, uid: 'new-uid' }]) });
    assert.equal(recreated.reason, 'NodeUIDMismatch');
    assert.match(
      recreated.message,
      /issued for node node-a with UID uid-node-a, but node node-a now has UID new-uid/,
    );
    assert.equal(
      (await run(POD_BOUND, { look: lookups([{ ...NODE_A, deleting: true }]) })).reason,
      'NodeBeingDeleted',
    );
    // No node-uid in the token (the Node did not exist when it was minted): existence suffices.
    const { nodeUid: _u, ...noUid } = POD_BOUND;
    assert.equal((await run(noUid, { look: lookups([{ ...NODE_A, uid: 'whatever' }]) })).kind, 'approve');
  });

  it('without node-name, reads the bound Pod in the service account namespace', async () => {
    const pod: PodFacts = {
      namespace: 'spire',
      name: 'agent-a',
      uid: 'uid-pod-a',
      nodeName: 'node-a',
      serviceAccountName: 'spire-agent',
      deleting: false,
    };
    const binding = { podName: 'agent-a', podUid: 'uid-pod-a' };
    const look = lookups([NODE_A], [pod]);
    const d = await run(binding, { look });
    assert.equal(d.kind, 'approve');
    assert.match(d.message, /read from the Pod/);
    assert.deepEqual(look.calls, ['pod spire/agent-a', 'node node-a']);
    assert.equal((await run(binding, { look: lookups([NODE_A], []) })).reason, 'PodNotFound');
    const recreated = await run(binding, { look: lookups([NODE_A], [{ ...pod, uid: 'other' }]) });
    assert.equal(recreated.reason, 'PodUIDMismatch');
    assert.equal(
      (await run(binding, { look: lookups([NODE_A], [{ ...pod, nodeName: '' }]) })).reason,
      'PodNotScheduled',
    );
    assert.equal(
      (await run(binding, { node: 'node-b', look: lookups([NODE_A], [pod]) })).reason,
      'NodeMismatch',
    );
  });

  it('lets lookup failures through (retried, never a denial)', async () => {
    const failing: Lookups = {
      getNode: () => Promise.reject(new AttestorError('ERR_KUBE_UNREACHABLE', 'down')),
      getPod: () => Promise.reject(new AttestorError('ERR_KUBE_FORBIDDEN', 'no')),
    };
    await assert.rejects(run(POD_BOUND, { look: failing }), { code: 'ERR_KUBE_UNREACHABLE' });
    await assert.rejects(run({ podName: 'a', podUid: 'b' }, { look: failing }), {
      code: 'ERR_KUBE_FORBIDDEN',
    });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ErrorCode } from '../../../src/errors.js';
import { EXIT, exitCodeFor } from '../../../src/cli/kit/exit-codes.js';
import { helpText } from '../../../src/cli/identity/help.js';
import { FLAGS } from '../../../src/cli/identity/options.js';

describe('help', () => {
  it('explains every flag with its default', () => {
    const text = helpText();
    const flat = text.replaceAll(/\n {8}/g, ' '); // undo the help's line wrapping
    for (const f of FLAGS) {
      assert.match(text, new RegExp(`\\n  -${f.name}\\b`), f.name);
      if (f.shownDefault !== undefined)
        assert.ok(flat.includes(`(default: ${f.shownDefault})`), `${f.name} default`);
    }
    for (const line of text.split('\n')) assert.ok(line.length <= 110, `help line too long: ${line}`);
    assert.match(text, /Exit codes:/);
    assert.match(text, /-ca-cert ~\/\.minikube\/apiserver\.crt/);
  });
});

describe('exit codes', () => {
  it('map each error kind to its documented code', () => {
    const expected: Record<ErrorCode, number> = {
      ERR_USAGE: 2,
      ERR_CONFIG: 2,
      ERR_INPUT: 3,
      ERR_KUBE_UNAUTHORIZED: 4,
      ERR_KUBE_CREDENTIALS: 4,
      ERR_KUBE_FORBIDDEN: 4,
      ERR_KUBE_UNREACHABLE: 5,
      ERR_KUBE_TLS: 5,
      ERR_KUBE_API: 5,
      ERR_CSR_DENIED: 6,
      ERR_CSR_FAILED: 7,
      ERR_CSR_DELETED: 7,
      ERR_CERT_MISMATCH: 7,
      ERR_TIMEOUT: 8,
      ERR_IO: 9,
      ERR_UNSAFE_DIR: 9,
      ERR_CANCELLED: 130,
      ERR_NOT_CONFIGURED: 1,
      ERR_PAYLOAD: 1,
      ERR_CHAIN: 1,
      ERR_PROFILE: 1,
      ERR_POP: 1,
      ERR_NODE: 1,
      ERR_CHALLENGE_TIMEOUT: 1,
      ERR_TOO_MANY_CHALLENGES: 1,
      ERR_INTERNAL: 1,
    };
    for (const [code, exit] of Object.entries(expected))
      assert.equal(exitCodeFor(code as ErrorCode), exit, code);
    assert.equal(EXIT.OK, 0);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { AttestorError, type ErrorCode } from '../../../../src/errors.js';
import { createLogger } from '../../../../src/log/logger.js';
import {
  GENERIC_INTERNAL_MESSAGE,
  grpcCodeFor,
  grpcError,
  statusName,
  toGrpcError,
} from '../../../../src/spire/host/grpc-status.js';

/** The mapping from the design: every ErrorCode, with the status SPIRE must see. */
const TABLE: Readonly<Record<ErrorCode, status>> = {
  ERR_USAGE: status.INVALID_ARGUMENT,
  ERR_INPUT: status.INVALID_ARGUMENT,
  ERR_CONFIG: status.INVALID_ARGUMENT,
  ERR_PAYLOAD: status.INVALID_ARGUMENT,
  ERR_NOT_CONFIGURED: status.FAILED_PRECONDITION,
  ERR_CHAIN: status.PERMISSION_DENIED,
  ERR_PROFILE: status.PERMISSION_DENIED,
  ERR_POP: status.PERMISSION_DENIED,
  ERR_NODE: status.PERMISSION_DENIED,
  ERR_CHALLENGE_TIMEOUT: status.DEADLINE_EXCEEDED,
  ERR_TOO_MANY_CHALLENGES: status.RESOURCE_EXHAUSTED,
  ERR_CSR_DENIED: status.PERMISSION_DENIED,
  ERR_KUBE_UNREACHABLE: status.UNAVAILABLE,
  ERR_KUBE_TLS: status.UNAVAILABLE,
  ERR_KUBE_UNAUTHORIZED: status.UNAVAILABLE,
  ERR_KUBE_CREDENTIALS: status.UNAVAILABLE,
  ERR_KUBE_FORBIDDEN: status.UNAVAILABLE,
  ERR_KUBE_API: status.UNAVAILABLE,
  ERR_CSR_DELETED: status.UNAVAILABLE,
  ERR_TIMEOUT: status.UNAVAILABLE,
  ERR_CSR_FAILED: status.FAILED_PRECONDITION,
  ERR_UNSAFE_DIR: status.FAILED_PRECONDITION,
  ERR_CANCELLED: status.CANCELLED,
  ERR_CERT_MISMATCH: status.INTERNAL,
  ERR_IO: status.INTERNAL,
  ERR_INTERNAL: status.INTERNAL,
};

describe('grpcCodeFor', () => {
  for (const [code, want] of Object.entries(TABLE) as [ErrorCode, status][]) {
    it(`maps ${code} to ${status[want]}`, () => {
      assert.equal(grpcCodeFor(code), want);
    });
  }
});

describe('toGrpcError', () => {
  const lines: string[] = [];
  const logger = createLogger({ format: 'json', level: 'debug', write: (l) => lines.push(l) });

  it("keeps an AttestorError's message", () => {
    const e = toGrpcError(new AttestorError('ERR_POP', 'signature does not verify'), logger, 'Attest');
    assert.equal(e.code, status.PERMISSION_DENIED);
    assert.equal(e.details, 'signature does not verify');
    assert.equal(e.message, 'signature does not verify');
  });

  it('turns anything else into INTERNAL with a generic message and logs the detail', () => {
    for (const thrown of [new RangeError('index 7 (secret)'), 'a string', undefined]) {
      lines.length = 0;
      const e = toGrpcError(thrown, logger, 'Attest');
      assert.equal(e.code, status.INTERNAL);
      assert.equal(e.details, GENERIC_INTERNAL_MESSAGE);
      assert.equal(lines.length, 1);
      assert.match(lines[0] ?? '', /Attest: unexpected error/);
    }
    assert.doesNotMatch(GENERIC_INTERNAL_MESSAGE, /secret|at /);
  });

  it('names status codes', () => {
    assert.equal(statusName(status.PERMISSION_DENIED), 'PERMISSION_DENIED');
    assert.equal(grpcError(status.NOT_FOUND, 'x').metadata.getMap().x, undefined);
  });
});

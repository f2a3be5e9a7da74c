/**
 * The CLI's documented exit codes (docs/cli.md). The switch is exhaustive over ErrorCode, so a
 * new error code cannot ship without deciding its exit code.
 */
import type { ErrorCode } from '../../errors.js';

export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  INPUT: 3,
  AUTH: 4,
  UNREACHABLE: 5,
  DENIED: 6,
  FAILED: 7,
  TIMEOUT: 8,
  IO: 9,
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export function exitCodeFor(code: ErrorCode): ExitCode {
  switch (code) {
    case 'ERR_USAGE':
    case 'ERR_CONFIG':
      return EXIT.USAGE;
    case 'ERR_INPUT':
      return EXIT.INPUT;
    case 'ERR_KUBE_UNAUTHORIZED':
    case 'ERR_KUBE_CREDENTIALS':
    case 'ERR_KUBE_FORBIDDEN':
      return EXIT.AUTH;
    case 'ERR_KUBE_UNREACHABLE':
    case 'ERR_KUBE_TLS':
    case 'ERR_KUBE_API':
      return EXIT.UNREACHABLE;
    case 'ERR_CSR_DENIED':
      return EXIT.DENIED;
    case 'ERR_CSR_FAILED':
    case 'ERR_CSR_DELETED':
    case 'ERR_CERT_MISMATCH':
      return EXIT.FAILED;
    case 'ERR_TIMEOUT':
      return EXIT.TIMEOUT;
    case 'ERR_IO':
    case 'ERR_UNSAFE_DIR':
      return EXIT.IO;
    case 'ERR_CANCELLED':
      return EXIT.INTERRUPTED;
    case 'ERR_NOT_CONFIGURED':
    case 'ERR_PAYLOAD':
    case 'ERR_CHAIN':
    case 'ERR_PROFILE':
    case 'ERR_POP':
    case 'ERR_NODE':
    case 'ERR_CHALLENGE_TIMEOUT':
    case 'ERR_TOO_MANY_CHALLENGES':
    case 'ERR_INTERNAL':
      return EXIT.INTERNAL;
  }
}

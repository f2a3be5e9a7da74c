/**
 * spire.service.common.config.v1.Config. SPIRE calls Configure once at load (with "" when there
 * is no plugin_data) and again on SIGUSR1 when a plugin_data_file changed, possibly while
 * attestations run; Validate is called by SPIRE >= 1.14 only. Configure calls are serialized
 * here so an attestor never sees two at once, and the gate keeps attestation RPCs failing with
 * FailedPrecondition until one has succeeded.
 */
import { status } from '@grpc/grpc-js';
import { ConfigService } from '../../gen/spire/service/common/config/v1/config.js';
import { AttestorError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { grpcCodeFor, grpcError, statusName } from './grpc-status.js';
import { parseConfigText } from './hcl.js';
import { bindService, unary, type ServiceBinding } from './service.js';
import type { ConfigureInput, ValidateResult } from './types.js';

/** Whether a Configure has succeeded; shared by the NodeAttestor adapters. */
export class ConfigGate {
  private configuredOnce = false;

  get configured(): boolean {
    return this.configuredOnce;
  }

  markConfigured(): void {
    this.configuredOnce = true;
  }

  /** Throws ERR_NOT_CONFIGURED until a Configure has succeeded. */
  requireConfigured(): void {
    if (!this.configuredOnce) throw new AttestorError('ERR_NOT_CONFIGURED', 'not configured');
  }
}

export interface Configurable {
  configure(input: ConfigureInput): Promise<void>;
  validate?(input: ConfigureInput): Promise<ValidateResult>;
}

/** SPIRE's trust domain rule: lower-case letters, digits, '.', '_' and '-'. */
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;

/** The trust domain from a request's core configuration, validated as SPIRE's built-ins do. */
export function trustDomainOf(core: { trustDomain: string } | undefined): string {
  const td = core?.trustDomain ?? '';
  if (td === '') throw new AttestorError('ERR_CONFIG', 'core configuration must contain trust_domain');
  if (!TRUST_DOMAIN.test(td) || td.length > 255) {
    throw new AttestorError(
      'ERR_CONFIG',
      `core configuration trust_domain ${JSON.stringify(td)} is malformed: use lower-case letters, digits, '.', '_' and '-'`,
    );
  }
  return td;
}

/** Runs async jobs one at a time, in arrival order. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export function createConfigService(
  attestor: Configurable,
  gate: ConfigGate,
  logger: Logger,
): ServiceBinding {
  const serial = new Serial();
  let generation = 0;

  const report = (what: string, err: unknown): void => {
    if (err instanceof AttestorError) {
      logger.error(`${what} failed`, {
        code: err.code,
        grpc_code: statusName(grpcCodeFor(err.code)),
        error: err.message,
      });
    }
  };

  return bindService(ConfigService, {
    configure: unary(logger, 'Configure', async (req) =>
      serial.run(async () => {
        const n = ++generation;
        try {
          const input = { trustDomain: trustDomainOf(req.coreConfiguration), hcl: req.hclConfiguration };
          await attestor.configure(input);
          gate.markConfigured();
          logger.debug('Configured', { trust_domain: input.trustDomain, generation: n });
          return {};
        } catch (err) {
          report('Configure', err);
          throw err;
        }
      }),
    ),
    validate: unary(logger, 'Validate', async (req) => {
      let input: ConfigureInput;
      let result: ValidateResult;
      try {
        input = { trustDomain: trustDomainOf(req.coreConfiguration), hcl: req.hclConfiguration };
        // Without the attestor's own check, at least the syntax must parse.
        result = attestor.validate
          ? await attestor.validate(input)
          : (parseConfigText(input.hcl), { valid: true, notes: [] });
      } catch (err) {
        report('Validate', err);
        throw err;
      }
      // Like SPIRE's built-ins: an invalid configuration is an InvalidArgument error naming the problems.
      if (!result.valid) {
        const why = result.notes.length > 0 ? result.notes.join('; ') : 'invalid configuration';
        logger.warn('Validate: configuration is invalid', { error: why });
        throw grpcError(status.INVALID_ARGUMENT, why);
      }
      return { valid: true, notes: result.notes };
    }),
  });
}

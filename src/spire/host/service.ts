/**
 * Plumbing shared by every service the plugin serves: request decoding that never throws inside
 * grpc-js (a malformed message becomes InvalidArgument from our handler, not grpc-js's generic
 * Internal), typed handler maps derived from the generated definitions, and a registry of
 * long-lived calls so stop() can end them instead of waiting on them forever.
 */
import type {
  MethodDefinition,
  ServerUnaryCall,
  ServiceDefinition,
  UntypedServiceImplementation,
  handleBidiStreamingCall,
  handleClientStreamingCall,
  handleServerStreamingCall,
  handleUnaryCall,
} from '@grpc/grpc-js';
import { AttestorError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { grpcError, toGrpcError } from './grpc-status.js';

export type Decoded<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** The shape of one method in a ts-proto generated grpc-js service definition. */
interface GeneratedMethod {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly requestDeserialize: (b: Buffer) => unknown;
  readonly responseSerialize: (v: never) => Buffer;
}
type GeneratedService = Readonly<Record<string, GeneratedMethod>>;

type RequestOf<M> = M extends { requestDeserialize: (b: Buffer) => infer R } ? R : never;
type ResponseOf<M> = M extends { responseSerialize: (v: infer R) => Buffer } ? R : never;

type HandlerOf<M> = M extends { requestStream: true; responseStream: true }
  ? handleBidiStreamingCall<Decoded<RequestOf<M>>, ResponseOf<M>>
  : M extends { requestStream: true; responseStream: false }
    ? handleClientStreamingCall<Decoded<RequestOf<M>>, ResponseOf<M>>
    : M extends { requestStream: false; responseStream: true }
      ? handleServerStreamingCall<Decoded<RequestOf<M>>, ResponseOf<M>>
      : handleUnaryCall<Decoded<RequestOf<M>>, ResponseOf<M>>;

/** Handlers for every method of a generated service, receiving Decoded requests. */
export type Implementation<D extends GeneratedService> = { readonly [K in keyof D]: HandlerOf<D[K]> };

export interface ServiceBinding {
  /** Fully qualified service name, e.g. "spire.service.common.config.v1.Config". */
  readonly name: string;
  readonly definition: ServiceDefinition;
  readonly implementation: UntypedServiceImplementation;
}

/** "spire.service.common.config.v1.Config" from a definition whose paths are "/<service>/<method>". */
export function serviceName(def: GeneratedService): string {
  const first = Object.values(def)[0];
  const m = first === undefined ? null : /^\/([^/]+)\/[^/]+$/.exec(first.path);
  if (m?.[1] === undefined) throw new Error('service definition without a method path');
  return m[1];
}

function safeDecode(decode: (b: Buffer) => unknown): (b: Buffer) => Decoded<unknown> {
  return (b) => {
    try {
      return { ok: true, value: decode(b) };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  };
}

/** Pairs a generated definition (with non-throwing request decoding) and its handlers. */
export function bindService<D extends GeneratedService>(def: D, impl: Implementation<D>): ServiceBinding {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [key, m] of Object.entries(def)) {
    definition[key] = {
      ...(m as unknown as MethodDefinition<unknown, unknown>),
      requestDeserialize: safeDecode(m.requestDeserialize),
    };
  }
  return {
    name: serviceName(def),
    definition,
    implementation: impl,
  };
}

/** The request's value, or an InvalidArgument error for a message that did not decode. */
export function requireDecoded<T>(req: Decoded<T>): T {
  if (!req.ok) throw malformed(req.error);
  return req.value;
}

/** The error for a message that is not valid protobuf for its type (InvalidArgument). */
export function malformed(detail: string): AttestorError {
  return new AttestorError('ERR_INPUT', `malformed request message: ${detail}`);
}

/** A unary handler from an async function: decoding and error mapping done once, here. */
export function unary<Req, Res>(
  logger: Logger,
  method: string,
  fn: (req: Req, call: ServerUnaryCall<Decoded<Req>, Res>) => Promise<Res>,
): handleUnaryCall<Decoded<Req>, Res> {
  return (call, callback) => {
    const run = async (): Promise<Res> => fn(requireDecoded(call.request), call);
    run().then(
      (res) => {
        callback(null, res);
      },
      (err: unknown) => {
        const e = isGrpcError(err) ? err : toGrpcError(err, logger, method);
        logger.debug(`${method} failed`, { grpc_code: e.code, error: e.details });
        callback(e);
      },
    );
  };
}

export function isGrpcError(err: unknown): err is ReturnType<typeof grpcError> {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && 'details' in err;
}

/** A call that stays open until the host closes it or we stop. */
interface LongLivedCall {
  end(): void;
  on(event: 'close', listener: () => void): unknown;
}

/** Tracks open long-lived calls (broker, stdio, health watches) so stop() can end them. */
export class OpenCalls {
  private readonly calls = new Set<LongLivedCall>();

  add(call: LongLivedCall): void {
    this.calls.add(call);
    call.on('close', () => this.calls.delete(call));
  }

  get size(): number {
    return this.calls.size;
  }

  /** Ends every open call with OK. */
  endAll(): void {
    for (const call of this.calls) {
      try {
        call.end();
      } catch {
        // Already finished or destroyed: nothing left to end.
      }
    }
    this.calls.clear();
  }
}

/**
 * spire.plugin.server.nodeattestor.v1.NodeAttestor/Attest as a promise-based call to
 * ServerNodeAttestor.attest. The host sends the agent's payload first, then relays each
 * challenge we write to the agent and sends back its response; we finish with agent_attributes
 * and OK, or end the call with the status for the error.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import {
  NodeAttestorService,
  type AttestRequest,
  type AttestResponse,
} from '../../gen/spire/plugin/server/nodeattestor/v1/nodeattestor.js';
import { AttestorError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { ConfigGate } from './config-service.js';
import { openAttestationStream } from './attestation-stream.js';
import { bindService, malformed, type Decoded, type ServiceBinding } from './service.js';
import { MessageReader, StreamClosedError, metadataMap } from './stream-reader.js';
import type { AgentAttributes, ServerAttestContext, ServerNodeAttestor } from './types.js';

type AttestCall = ServerDuplexStream<Decoded<AttestRequest>, AttestResponse>;

export const SERVER_NODE_ATTESTOR_SERVICE = 'spire.plugin.server.nodeattestor.v1.NodeAttestor';

export function createServerNodeAttestorService(
  attestor: ServerNodeAttestor,
  gate: ConfigGate,
  logger: Logger,
): ServiceBinding {
  return bindService(NodeAttestorService, {
    attest: (call) => {
      void runAttest(call, attestor, gate, logger);
    },
  });
}

function requestOf(msg: Decoded<AttestRequest>): AttestRequest['request'] {
  if (!msg.ok) throw malformed(msg.error);
  return msg.value.request;
}

/** SPIRE refuses attributes without an agent ID; say so here, where the cause is known. */
function checkAttributes(a: AgentAttributes): void {
  if (typeof a.spiffeId !== 'string' || !a.spiffeId.startsWith('spiffe://')) {
    throw new AttestorError('ERR_INTERNAL', 'attestor returned no valid agent SPIFFE ID');
  }
  if (!Array.isArray(a.selectorValues) || a.selectorValues.some((s) => typeof s !== 'string')) {
    throw new AttestorError('ERR_INTERNAL', 'attestor returned invalid selector values');
  }
}

/**
 * `read`, or the signal's reason once it aborts. The read left behind settles when the call ends
 * (StreamClosedError); it is handled here, so it never becomes an unhandled rejection.
 */
function untilAborted<T>(read: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return read;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    void read.then(resolve, reject).finally(() => {
      signal.removeEventListener('abort', onAbort);
    });
  });
}

async function runAttest(
  call: AttestCall,
  attestor: ServerNodeAttestor,
  gate: ConfigGate,
  logger: Logger,
): Promise<void> {
  const { aborter, started, fail, answered } = openAttestationStream(call, 'Attest', logger);
  const reader = new MessageReader<Decoded<AttestRequest>>(call);
  try {
    gate.requireConfigured();
    const first = await reader.next();
    if (first.done) throw new AttestorError('ERR_PAYLOAD', 'attestation stream ended before the payload');
    const req = requestOf(first.value);
    if (req?.$case !== 'payload') {
      throw new AttestorError('ERR_PAYLOAD', 'the first attestation message must be the payload');
    }
    if (req.payload.length === 0) throw new AttestorError('ERR_PAYLOAD', 'attestation payload is empty');

    let pending = false;
    const ctx: ServerAttestContext = {
      metadata: metadataMap(call.metadata),
      signal: aborter.signal,
      challenge: async (challenge, options = {}) => {
        if (pending)
          throw new AttestorError('ERR_INTERNAL', 'challenge() called while a challenge is pending');
        if (challenge.length === 0)
          throw new AttestorError('ERR_INTERNAL', 'attestor produced an empty challenge');
        aborter.signal.throwIfAborted();
        options.signal?.throwIfAborted();
        pending = true;
        try {
          call.write({ response: { $case: 'challenge', challenge } });
          const next = await untilAborted(reader.next(), options.signal);
          if (next.done)
            throw new AttestorError('ERR_PAYLOAD', 'attestation stream ended before the challenge response');
          const r = requestOf(next.value);
          if (r?.$case !== 'challengeResponse') {
            throw new AttestorError('ERR_PAYLOAD', 'expected a challenge response, got another message');
          }
          if (r.challengeResponse.length === 0) {
            throw new AttestorError('ERR_PAYLOAD', 'the agent sent an empty challenge response');
          }
          return r.challengeResponse;
        } finally {
          pending = false;
        }
      },
    };

    const attrs = await attestor.attest(req.payload, ctx);
    checkAttributes(attrs);
    aborter.signal.throwIfAborted();
    call.write({
      response: {
        $case: 'agentAttributes',
        agentAttributes: {
          spiffeId: attrs.spiffeId,
          selectorValues: [...attrs.selectorValues],
          canReattest: attrs.canReattest,
        },
      },
    });
    call.end();
    // No line of our own here: the attestor logs each attestation (k8s_csr: "attested node"), and
    // a second synchronous stderr write per attestation was a measurable share of the plugin's time.
    answered();
  } catch (err) {
    if (aborter.signal.aborted || err instanceof StreamClosedError) {
      logger.debug('Attestation stream cancelled by the host', { duration_ms: Date.now() - started });
      return;
    }
    fail(err, 'Attestation refused');
  }
}

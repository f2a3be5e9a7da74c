/**
 * spire.plugin.agent.nodeattestor.v1.NodeAttestor/AidAttestation as calls to AgentNodeAttestor.
 * The host sends nothing until we have sent the payload, then one Challenge per server
 * challenge. It never half-closes in SPIRE 1.13: once the server has answered it cancels the
 * stream, so a cancellation after the payload is the normal end, not an error.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import {
  NodeAttestorService,
  type Challenge,
  type PayloadOrChallengeResponse,
} from '../../gen/spire/plugin/agent/nodeattestor/v1/nodeattestor.js';
import { AttestorError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { ConfigGate } from './config-service.js';
import { openAttestationStream } from './attestation-stream.js';
import { bindService, malformed, type Decoded, type ServiceBinding } from './service.js';
import { MessageReader, StreamClosedError } from './stream-reader.js';
import type { AgentNodeAttestor } from './types.js';

type AidCall = ServerDuplexStream<Decoded<Challenge>, PayloadOrChallengeResponse>;

export const AGENT_NODE_ATTESTOR_SERVICE = 'spire.plugin.agent.nodeattestor.v1.NodeAttestor';

export function createAgentNodeAttestorService(
  attestor: AgentNodeAttestor,
  gate: ConfigGate,
  logger: Logger,
): ServiceBinding {
  return bindService(NodeAttestorService, {
    aidAttestation: (call) => {
      void runAidAttestation(call, attestor, gate, logger);
    },
  });
}

async function runAidAttestation(
  call: AidCall,
  attestor: AgentNodeAttestor,
  gate: ConfigGate,
  logger: Logger,
): Promise<void> {
  const { aborter, started, fail } = openAttestationStream(call, 'AidAttestation', logger);
  const reader = new MessageReader<Decoded<Challenge>>(call);
  let payloadSent = false;
  let answered = 0;
  try {
    gate.requireConfigured();
    const attestation = await attestor.begin(aborter.signal);
    aborter.signal.throwIfAborted();
    // The host would fail with "plugin response missing attestation payload"; name the cause.
    if (attestation.payload.length === 0)
      throw new AttestorError('ERR_INTERNAL', 'attestor produced an empty payload');
    call.write({ data: { $case: 'payload', payload: attestation.payload } });
    payloadSent = true;
    for (;;) {
      const next = await reader.next();
      if (next.done) {
        // A host cancel can surface as a half-close first; either way the attestation is over.
        aborter.abort(new StreamClosedError('attestation stream ended by the host'));
        call.end();
        logger.debug('AidAttestation ended by the host', { challenges: answered });
        return;
      }
      if (!next.value.ok) throw malformed(next.value.error);
      const challenge = next.value.value.challenge;
      if (challenge.length === 0) throw new AttestorError('ERR_PAYLOAD', 'received an empty challenge');
      const response = await attestation.answer(challenge);
      aborter.signal.throwIfAborted();
      if (response.length === 0)
        throw new AttestorError('ERR_INTERNAL', 'attestor produced an empty challenge response');
      call.write({ data: { $case: 'challengeResponse', challengeResponse: response } });
      answered++;
    }
  } catch (err) {
    if (aborter.signal.aborted || err instanceof StreamClosedError) {
      const fields = { challenges: answered, duration_ms: Date.now() - started };
      if (payloadSent) logger.debug('AidAttestation stream closed by the host', fields);
      else logger.warn('AidAttestation cancelled by the host before the payload was ready', fields);
      return;
    }
    fail(err, 'Attestation failed');
  }
}

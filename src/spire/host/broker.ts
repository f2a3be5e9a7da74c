/**
 * plugin.GRPCBroker/StartStream. SPIRE always brokers a host-services listener (service 1) and
 * fails the load if the stream dies, so we accept it, remember what the host sends, send
 * nothing, and hold it open until the host closes it or we stop. Our plugins use no host
 * services, so nobody dials the address.
 */
import { GRPCBrokerService, type ConnInfo } from '../../gen/plugin/broker.js';
import type { Logger } from '../../log/logger.js';
import { OpenCalls, bindService, type Decoded, type ServiceBinding } from './service.js';
import type { BrokerConnInfo } from './types.js';

/** Only a handful are ever sent; the cap keeps a looping host from growing memory. */
const MAX_REMEMBERED = 16;

export interface BrokerService {
  readonly binding: ServiceBinding;
  readonly open: OpenCalls;
  connInfo(): readonly BrokerConnInfo[];
}

export function createBrokerService(logger: Logger): BrokerService {
  const seen: BrokerConnInfo[] = [];
  const open = new OpenCalls();
  const binding = bindService(GRPCBrokerService, {
    startStream: (call) => {
      open.add(call);
      call.on('data', (msg: Decoded<ConnInfo>) => {
        if (!msg.ok) {
          logger.warn('Ignoring a malformed broker message', { error: msg.error });
          return;
        }
        const info = {
          serviceId: msg.value.serviceId,
          network: msg.value.network,
          address: msg.value.address,
        };
        if (seen.length >= MAX_REMEMBERED) seen.shift();
        seen.push(info);
        logger.debug('Host broker offered a connection', {
          service_id: info.serviceId,
          network: info.network,
          address: info.address,
        });
      });
      // The host half-closing means it is done with the broker: finish our side with OK.
      call.on('end', () => {
        call.end();
      });
      call.on('error', (err: Error) => {
        logger.debug('Broker stream error', { error: err.message });
      });
    },
  });
  return { binding, open, connInfo: () => seen.slice() };
}

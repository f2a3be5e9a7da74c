/**
 * plugin.GRPCController/Shutdown: how go-plugin unloads a plugin. We reply first, then stop (the
 * host SIGKILLs us 2 s after the call if we are still running).
 */
import { GRPCControllerService } from '../../gen/plugin/controller.js';
import type { Logger } from '../../log/logger.js';
import { bindService, unary, type ServiceBinding } from './service.js';

export function createControllerService(logger: Logger, onShutdown: () => void): ServiceBinding {
  return bindService(GRPCControllerService, {
    shutdown: unary(logger, 'Shutdown', async () => {
      logger.debug('Shutdown requested by the host');
      // After the reply has been handed to the transport, not before.
      setImmediate(onShutdown);
      return Promise.resolve({});
    }),
  });
}

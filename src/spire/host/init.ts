/**
 * spire.service.private.init.v1.Init. Init's answer is the only way SPIRE learns which services
 * we implement, so it lists exactly the side's NodeAttestor and Config; anything else would only
 * produce "Unsupported plugin service" warnings in the SPIRE log.
 */
import { InitService } from '../../gen/spire/service/private/init/v1/init.js';
import type { Logger } from '../../log/logger.js';
import { bindService, unary, type ServiceBinding } from './service.js';

export function createInitService(pluginServiceNames: readonly string[], logger: Logger): ServiceBinding {
  return bindService(InitService, {
    init: unary(logger, 'Init', async (req) => {
      logger.debug('Init', { host_services: req.hostServiceNames.join(',') });
      return Promise.resolve({ pluginServiceNames: [...pluginServiceNames] });
    }),
    deinit: unary(logger, 'Deinit', async () => {
      logger.debug('Deinit');
      return Promise.resolve({});
    }),
  });
}

/**
 * plugin.GRPCStdio/StreamStdio. SPIRE discards whatever arrives here (our logs reach it through
 * stderr instead), so the stream is held open with no data until the host closes it or we stop.
 */
import { GRPCStdioService } from '../../gen/plugin/stdio.js';
import type { Logger } from '../../log/logger.js';
import { OpenCalls, bindService, type ServiceBinding } from './service.js';

export interface StdioService {
  readonly binding: ServiceBinding;
  readonly open: OpenCalls;
}

export function createStdioService(logger: Logger): StdioService {
  const open = new OpenCalls();
  const binding = bindService(GRPCStdioService, {
    streamStdio: (call) => {
      open.add(call);
      call.on('error', (err: Error) => {
        logger.debug('Stdio stream error', { error: err.message });
      });
    },
  });
  return { binding, open };
}

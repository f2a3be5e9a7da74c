/**
 * grpc.health.v1.Health. go-plugin's non-Go guide asks for service "plugin" to report SERVING
 * (SPIRE itself never asks). "" (the whole server) reports the same. Watch streams receive
 * NOT_SERVING when we stop.
 */
import { status } from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthService,
} from '../../gen/grpc/health/v1/health.js';
import type { Logger } from '../../log/logger.js';
import { grpcError } from './grpc-status.js';
import { OpenCalls, bindService, requireDecoded, unary, type ServiceBinding } from './service.js';

export const HEALTH_SERVICES: readonly string[] = ['plugin', ''];

export interface HealthServiceHandle {
  readonly binding: ServiceBinding;
  readonly open: OpenCalls;
  /** Reports NOT_SERVING to checks and watchers (called when stopping). */
  setNotServing(): void;
}

export function createHealthService(logger: Logger): HealthServiceHandle {
  let serving = true;
  const open = new OpenCalls();
  const watchers = new Set<(s: ServingStatus) => void>();
  const current = (): ServingStatus => (serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);

  const binding = bindService(HealthService, {
    check: unary(logger, 'Check', async (req) => {
      if (!HEALTH_SERVICES.includes(req.service)) {
        throw grpcError(status.NOT_FOUND, `unknown service ${JSON.stringify(req.service)}`);
      }
      return Promise.resolve({ status: current() });
    }),
    watch: (call) => {
      let service: string;
      try {
        service = requireDecoded(call.request).service;
      } catch (err) {
        call.emit('error', err);
        return;
      }
      open.add(call);
      const send = (s: ServingStatus): void => {
        call.write({ status: HEALTH_SERVICES.includes(service) ? s : ServingStatus.SERVICE_UNKNOWN });
      };
      watchers.add(send);
      call.on('close', () => watchers.delete(send));
      call.on('error', (err: Error) => {
        logger.debug('Health watch stream error', { error: err.message });
      });
      send(current());
    },
  });

  return {
    binding,
    open,
    setNotServing: () => {
      serving = false;
      for (const w of watchers) w(ServingStatus.NOT_SERVING);
    },
  };
}

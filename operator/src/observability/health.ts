// The operator's /healthz, /readyz and /metrics on --health-port (the HTTP server is the
// agent's, nginx/agent/health.ts: one implementation for both containers). Ready once the
// watches have synced and the first configuration version is written: before that, nginx
// in this pod has nothing of ours to serve.
import { startHealthServer, type HealthServer } from '../../../nginx/agent/health.ts';
import type { ControllerObserver } from '../controller.ts';
import type { OperatorMetrics } from './metrics.ts';

export type { HealthServer };

export interface OperatorReadiness {
  /** Told about rebuilds: the first one writes a version. */
  observer: ControllerObserver;
  watchesSynced(): void;
  notReady(): string[];
}

export function operatorReadiness(): OperatorReadiness {
  let synced = false;
  let written = false;
  return {
    observer: {
      rebuilt(r) {
        if (r.version !== undefined) written = true;
      },
    },
    watchesSynced: () => {
      synced = true;
    },
    notReady: () => [...(synced ? [] : ['watches not synced yet']), ...(written ? [] : ['no configuration version written yet'])],
  };
}

export function startOperatorHealth(opts: { port: number; host?: string; metrics: OperatorMetrics; readiness: OperatorReadiness }): Promise<HealthServer> {
  return startHealthServer({ port: opts.port, host: opts.host, registry: opts.metrics.registry, notReady: () => opts.readiness.notReady() });
}

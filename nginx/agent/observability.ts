// The agent with its probes and metrics (--health-port): the traffic log receiver is bound
// before nginx starts (its port and tag go into the main nginx.conf), the health server
// answers from the start (/readyz 503 until nginx serves a version from the config root).
import { startAgent, type Agent, type AgentOptions } from './agent.ts';
import { startTrafficLogReceiver, type TrafficLogReceiver } from './access-log.ts';
import { startHealthServer, type HealthServer } from './health.ts';
import { createAgentMetrics, type AgentMetrics, type TrafficOptions } from './metrics.ts';
import { runningMasterFromPidFile } from './nginx.ts';

export interface ObservedAgentOptions extends AgentOptions {
  healthPort: number;
  /** Default 0.0.0.0. */
  healthHost?: string;
  traffic?: TrafficOptions;
  /** Process metrics (default true; tests turn them off). */
  defaultMetrics?: boolean;
}

export interface ObservedAgent {
  agent: Agent;
  health: HealthServer;
  metrics: AgentMetrics;
  receiver: TrafficLogReceiver;
  stop(): Promise<void>;
}

/** Why the agent is not ready: nginx serves no version of ours yet. */
export function agentNotReady(agent: Pick<Agent, 'live'> | undefined): string[] {
  if (!agent) return ['the agent is starting'];
  return agent.live === undefined ? ['nginx serves no configuration version yet'] : [];
}

export async function startObservedAgent(opts: ObservedAgentOptions): Promise<ObservedAgent> {
  let agent: Agent | undefined;
  const metrics = createAgentMetrics({ served: () => agent?.live, traffic: opts.traffic, defaultMetrics: opts.defaultMetrics, lines: () => receiver.counts, workers: () => agent?.workers(), pushes: () => agent?.pushes() });
  const receiver = await startTrafficLogReceiver((r) => metrics.traffic.record(r));
  let health: HealthServer;
  try {
    health = await startHealthServer({
      port: opts.healthPort,
      host: opts.healthHost,
      registry: metrics.registry,
      notReady: () => agentNotReady(agent),
      // While the agent starts or restarts nginx there may be no master for a moment; the
      // kubelet's failureThreshold absorbs that, a master that stays gone fails the probe.
      notAlive: () => (agent && runningMasterFromPidFile(opts.runDir) === undefined ? ['nginx master is not running'] : []),
    });
  } catch (err) {
    await receiver.close();
    throw err;
  }
  try {
    agent = await startAgent({ ...opts, trafficLog: receiver.target });
  } catch (err) {
    await health.close();
    await receiver.close();
    throw err;
  }
  agent.onVerdict((v) => metrics.verdict(v));
  const started = agent;
  return {
    agent: started,
    health,
    metrics,
    receiver,
    async stop() {
      await started.stop();
      await health.close();
      await receiver.close();
    },
  };
}

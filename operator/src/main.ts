#!/usr/bin/env node
// waygate: a Gateway API implementation that programs nginx.
//   waygate operator [--config-root DIR]        watch the cluster (KUBECONFIG or in-cluster)
//   waygate standalone DIR [--run-dir DIR]      serve the Gateway API YAML in DIR with a local nginx
//   waygate render [--status] PATH...           print the nginx config (or statuses) for YAML files
import { parseArgs } from 'node:util';
import { defaultControllerName, supportedFeatures } from './features.ts';
import { createLogger } from './log.ts';
import { renderCommand } from './modes/render.ts';
import { startStandalone } from './modes/standalone.ts';
import { parseDrainTimeout, parseMemory } from '../../nginx/agent/drain.ts';
import { leaderElectionFlags, leaderElectionFromFlags, leaderElectionUsage } from './leader/flags.ts';

const usage = `usage:
  waygate operator [--config-root DIR] [--controller-name NAME]
    [--gateway-addresses service|loopback] [--gateway-pod-selector SELECTOR] [--health-port PORT]
    ${leaderElectionUsage}
  waygate standalone DIR [--run-dir DIR] [--nginx PATH] [--controller-name NAME]
    [--drain-timeout 5m] [--max-draining-workers 16] [--max-draining-memory 512Mi]
  waygate render [--status] PATH...`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      status: { type: 'boolean', default: false },
      'run-dir': { type: 'string' },
      'config-root': { type: 'string' },
      nginx: { type: 'string' },
      'controller-name': { type: 'string', default: process.env.WAYGATE_CONTROLLER_NAME ?? defaultControllerName },
      help: { type: 'boolean', short: 'h' },
      // service: a Service per Gateway leading to nginx's internal ports (a cluster);
      // loopback: each Gateway on its own 127.x address (an operator on one host, tests).
      'gateway-addresses': { type: 'string', default: 'service' },
      // Which pods the Gateway Services lead to: the waygate pods in $POD_NAMESPACE.
      'gateway-pod-selector': { type: 'string', default: 'app.kubernetes.io/name=waygate,app.kubernetes.io/instance=waygate' },
      ...leaderElectionFlags,
      // /healthz, /readyz, /metrics (operator); no server without it.
      'health-port': { type: 'string' },
      // After a reload, old nginx workers keep open connections (WebSockets) this long (standalone).
      'drain-timeout': { type: 'string' },
      'max-draining-workers': { type: 'string' },
      'max-draining-memory': { type: 'string' },
    },
  });
  const controllerName = values['controller-name']!;
  if (values.help || !command || command === '--help' || command === '-h') {
    console.log(usage);
    return command ? 0 : 2; // asked for: success; no command at all: a usage error
  }
  switch (command) {
    case 'render': {
      const out = renderCommand(positionals, { status: values.status!, controllerName, supportedFeatures });
      process.stdout.write(out.stdout);
      process.stderr.write(out.stderr);
      return out.exitCode;
    }
    case 'standalone': {
      const [dir] = positionals;
      if (positionals.length !== 1 || dir === undefined) { console.error(usage); return 2; }
      const dt = values['drain-timeout'];
      const drainTimeoutMs = dt === undefined ? undefined : parseDrainTimeout(dt);
      if (dt !== undefined && drainTimeoutMs === undefined) { console.error(`--drain-timeout: a duration from 1s to 24h such as 300s, 5m or 1h, not ${JSON.stringify(dt)}`); return 2; }
      const mdw = values['max-draining-workers'];
      const maxDrainingWorkers = mdw === undefined ? undefined : Number(mdw);
      if (maxDrainingWorkers !== undefined && !(Number.isInteger(maxDrainingWorkers) && maxDrainingWorkers > 0)) { console.error(`--max-draining-workers: a positive integer, not ${JSON.stringify(mdw)}`); return 2; }
      const mdm = values['max-draining-memory'];
      const maxDrainingMemoryBytes = mdm === undefined ? undefined : parseMemory(mdm);
      if (mdm !== undefined && maxDrainingMemoryBytes === undefined) { console.error(`--max-draining-memory: a size from 16Mi to 1024Gi such as 512Mi or 2Gi, not ${JSON.stringify(mdm)}`); return 2; }
      const logger = createLogger();
      const signal = waitForSignal(); // from the start: a signal while starting stops nginx once it runs
      const s = await startStandalone({
        dir,
        runDir: values['run-dir'],
        controllerName,
        supportedFeatures,
        logger,
        nginxBinary: values.nginx,
        drainTimeoutMs,
        maxDrainingWorkers,
        maxDrainingMemoryBytes,
      });
      await signal;
      logger.info('stopping');
      await s.stop();
      return 0;
    }
    case 'operator': {
      const { runOperator } = await import('./modes/operator.ts');
      const mode = values['gateway-addresses'];
      if (mode !== 'service' && mode !== 'loopback') { console.error(`--gateway-addresses: service or loopback, not ${JSON.stringify(mode)}`); return 2; }
      const podNamespace = process.env.POD_NAMESPACE;
      if (mode === 'service' && !podNamespace) { console.error('--gateway-addresses service needs $POD_NAMESPACE (the downward API\'s metadata.namespace): the Gateway Services lead to the waygate pods there'); return 2; }
      const exposure = mode === 'service' ? { mode, pods: { namespace: podNamespace!, selector: values['gateway-pod-selector']!, self: process.env.POD_NAME } } as const : { mode } as const;
      const healthPort = values['health-port'] === undefined ? undefined : Number(values['health-port']);
      if (healthPort !== undefined && !(Number.isInteger(healthPort) && healthPort >= 0 && healthPort < 65536)) { console.error(`--health-port: a port number, not ${JSON.stringify(values['health-port'])}`); return 2; }
      return runOperator({ healthPort, configRoot: values['config-root'] ?? '/etc/waygate/config', controllerName, supportedFeatures, logger: createLogger(), leaderElection: leaderElectionFromFlags(values), exposure });
    }
    default:
      console.error(`unknown command ${JSON.stringify(command)}\n${usage}`);
      return 2;
  }
}

export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => resolve(s));
  });
}

main(process.argv.slice(2)).then(
  // Exit only once stdout is flushed: into a pipe it is asynchronous, and `render` output
  // of more than 128 KiB was cut.
  (code) => process.stdout.write('', () => process.exit(code)),
  (e) => {
    console.error(`waygate: ${(e as Error).message}`);
    process.exit(1);
  },
);

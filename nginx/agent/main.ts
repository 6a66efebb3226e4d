// The sidecar's entrypoint: runs nginx and the agent until SIGTERM/SIGINT.
//   main.ts --config-root DIR --run-dir DIR [--nginx PATH] [--worker-processes N|auto]
//           [--access-log PATH|stdout|off] [--verify-timeout MS] [--log-level LEVEL]
//           [--health-port PORT]   /healthz, /readyz, /metrics incl. per-route traffic (observability.ts)
//           [--drain-timeout 5m]   after a reload, old workers keep open connections (WebSockets) this long
//           [--max-draining-workers 16]   beyond this many draining workers the oldest are ended (drain.ts)
//           [--max-draining-memory 512Mi]   likewise beyond this much memory in draining workers
import { parseArgs } from 'node:util';
import winston from 'winston';
import { startAgent, type Agent } from './agent.ts';
import { parseDrainTimeout, parseMemory } from './drain.ts';
import { startObservedAgent } from './observability.ts';
import { redactLine } from './redact.ts';

const usage = 'usage: main.ts --config-root DIR --run-dir DIR [--run-dir-volume DIR] [--nginx PATH] [--worker-processes N|auto] [--access-log PATH|stdout|off] [--verify-timeout MS] [--log-level LEVEL] [--health-port PORT] [--drain-timeout DURATION] [--max-draining-workers N] [--max-draining-memory SIZE]';

function options() {
  const { values } = parseArgs({
    options: {
      'config-root': { type: 'string' },
      'run-dir': { type: 'string' },
      // The pod volume (emptyDir) the run dir lives in: not checked for ownership (see agent.ts).
      'run-dir-volume': { type: 'string' },
      nginx: { type: 'string' },
      'worker-processes': { type: 'string' },
      'access-log': { type: 'string' },
      'verify-timeout': { type: 'string' },
      'health-port': { type: 'string' },
      'drain-timeout': { type: 'string' },
      'max-draining-workers': { type: 'string' },
      'max-draining-memory': { type: 'string' },
      'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const configRoot = values['config-root'];
  const runDir = values['run-dir'];
  if (!configRoot || !runDir) {
    console.error(usage);
    process.exit(2);
  }
  const wp = values['worker-processes'];
  const workerProcesses: number | 'auto' = wp === undefined || wp === 'auto' ? 'auto' : Number(wp);
  if (workerProcesses !== 'auto' && !(Number.isInteger(workerProcesses) && workerProcesses > 0)) {
    console.error(`--worker-processes: a positive integer or auto, not ${wp}`);
    process.exit(2);
  }
  const al = values['access-log'];
  const hp = values['health-port'];
  const healthPort = hp === undefined ? undefined : Number(hp);
  if (healthPort !== undefined && !(Number.isInteger(healthPort) && healthPort >= 0 && healthPort < 65536)) {
    console.error(`--health-port: a port number, not ${hp}`);
    process.exit(2);
  }
  const dt = values['drain-timeout'];
  const drainTimeoutMs = dt === undefined ? undefined : parseDrainTimeout(dt);
  if (dt !== undefined && drainTimeoutMs === undefined) {
    console.error(`--drain-timeout: a duration from 1s to 24h such as 300s, 5m or 1h, not ${dt}`);
    process.exit(2);
  }
  const mdw = values['max-draining-workers'];
  const maxDrainingWorkers = mdw === undefined ? undefined : Number(mdw);
  if (maxDrainingWorkers !== undefined && !(Number.isInteger(maxDrainingWorkers) && maxDrainingWorkers > 0)) {
    console.error(`--max-draining-workers: a positive integer, not ${mdw}`);
    process.exit(2);
  }
  const mdm = values['max-draining-memory'];
  const maxDrainingMemoryBytes = mdm === undefined ? undefined : parseMemory(mdm);
  if (mdm !== undefined && maxDrainingMemoryBytes === undefined) {
    console.error(`--max-draining-memory: a size from 16Mi to 1024Gi such as 512Mi or 2Gi, not ${mdm}`);
    process.exit(2);
  }
  return {
    configRoot,
    runDir,
    runDirVolume: values['run-dir-volume'],
    nginxBinary: values.nginx,
    workerProcesses,
    accessLog: al === 'off' ? (false as const) : al,
    verifyTimeoutMs: values['verify-timeout'] ? Number(values['verify-timeout']) : undefined,
    logLevel: values['log-level'],
    healthPort,
    drainTimeoutMs,
    maxDrainingWorkers,
    maxDrainingMemoryBytes,
  };
}

function createLogger(level: string): winston.Logger {
  const { combine, timestamp, json, colorize, printf } = winston.format;
  const text = printf(({ level, message, timestamp, component }) => `${timestamp} ${level} ${component ? `[${component}] ` : ''}${message}`);
  return winston.createLogger({
    level,
    // redactLine last: TLS material never reaches a line (redact.ts).
    format: process.stdout.isTTY ? combine(timestamp(), colorize(), text, redactLine()) : combine(timestamp(), json(), redactLine()),
    transports: [new winston.transports.Console()],
  });
}

const opts = options();
const logger = createLogger(opts.logLevel);
// Signals are handled from the start: one during startup stops nginx once it runs, instead
// of killing us and leaving nginx behind.
let stopping: string | undefined;
let agent: Pick<Agent, 'live' | 'stop'> | undefined;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = signal;
  if (!agent) return; // started below, then stopped
  logger.info(`${signal}: stopping nginx`);
  agent.stop().then(
    () => process.exit(0),
    (err: Error) => {
      logger.error(`stopping: ${err.message}`);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
try {
  if (opts.healthPort === undefined) agent = await startAgent({ ...opts, logger });
  else {
    const observed = await startObservedAgent({ ...opts, healthPort: opts.healthPort, logger });
    agent = { get live() { return observed.agent.live; }, stop: () => observed.stop() };
    logger.info(`health and metrics on port ${observed.health.port}`);
  }
  logger.info(`agent running: config root ${opts.configRoot}, run dir ${opts.runDir}, serving version ${agent.live ?? '(none)'}`);
  if (stopping) {
    const signal = stopping;
    stopping = undefined;
    stop(signal);
  }
} catch (err) {
  logger.error(`agent failed to start: ${(err as Error).message}`);
  process.exit(1);
}

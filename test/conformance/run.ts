// `npm run conformance [-- --profile GATEWAY-HTTP --run <TestName>]`: the upstream Gateway
// API conformance suite against waygate, on a private test bed (its own ports and state
// dir, so it never collides with `npm test`). The steps are exported for core.test.ts,
// which runs them on `npm test`'s test bed instead.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import winston from 'winston';
import { startAgent } from '../../nginx/agent/index.ts';
import { defaultControllerName, supportedFeatures } from '../../operator/src/features.ts';
import { startOperator } from '../../operator/src/modes/operator.ts';
import { servedProfiles } from './profiles.ts';
export { servedProfiles };
import { defaultPorts, startCluster, type Cluster } from '../cluster/cluster.ts';
import { ensureNginx, type NginxInstallation } from '../cluster/nginx.ts';
import { clusterSrcDir } from '../cluster/paths.ts';
import { assertSuiteMatchesTestbed, ensureHarness, reportDir, startHarness, type HarnessProcess } from './harness.ts';
import { writeReadme } from './readme.ts';
import { parseHarnessOutput, parseReport } from './results.ts';
import { formatSummary, runProblems, type SuiteRun } from './summary.ts';

export const gatewayClassName = 'waygate';
type Log = (msg: string) => void;

/** Steps to undo, run once in reverse order: at the end, on failure, and on Ctrl-C. */
export class Teardown {
  private steps: { name: string; fn: () => unknown }[] = [];
  private running: Promise<void> | undefined;
  add(name: string, fn: () => unknown): void {
    this.steps.push({ name, fn });
  }
  run(log: Log): Promise<void> {
    this.running ??= (async () => {
      for (const s of this.steps.reverse()) {
        try {
          await s.fn();
        } catch (err) {
          log(`teardown: ${s.name}: ${(err as Error).message}`);
        }
      }
    })();
    return this.running;
  }
}

/** What every run needs before a cluster: matching versions, nginx, the harness binary. */
export async function prepare(log: Log): Promise<{ harness: string; nginx: NginxInstallation }> {
  assertSuiteMatchesTestbed();
  const nginx = await ensureNginx(log);
  return { harness: await ensureHarness(log), nginx };
}

function fileLogger(file: string): winston.Logger {
  return winston.createLogger({
    level: process.env.WAYGATE_LOG_LEVEL ?? 'info',
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.File({ filename: file })],
  });
}

/** Whether a Node is Ready already (a node agent of the test bed's own, under `npm test`). */
async function hasReadyNode(cluster: Cluster): Promise<boolean> {
  const nodes = JSON.parse(await cluster.kubectl(['get', 'nodes', '-o', 'json'])) as { items: { status?: { conditions?: { type: string; status: string }[] } }[] };
  return nodes.items.some((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

/** The node agent runs the suite's echo-basic pods; without it no backend ever becomes Ready. */
export async function startNode(cluster: Cluster, stateDir: string, logFile: string, log: Log): Promise<{ stop(): Promise<void> }> {
  if (await hasReadyNode(cluster)) {
    log('conformance: a Ready node exists already; using it');
    return { stop: async () => {} };
  }
  if (!existsSync(join(clusterSrcDir, 'node', 'agent.ts'))) {
    throw new Error('the node agent (test/cluster/node/) is required: the suite deploys echo-basic pods, and only the node agent runs them on the test bed');
  }
  const { startNodeAgent } = await import('../cluster/node/agent.ts');
  const logger = fileLogger(logFile);
  return startNodeAgent({ kubeconfig: cluster.kubeconfig, stateDir, log: (m) => logger.info(m), binaries: cluster.binaries });
}

/** The GatewayClass the suite runs against, then the nginx agent and the operator in-process. */
/** addressBlock: the 127.x/16 block of Gateway addresses, so that `npm test` and `npm run conformance` can run side by side. */
/** features: what the operator publishes (default: the repository's list). */
export async function startWaygate(cluster: Cluster, runDir: string, nginx: NginxInstallation, addressBlock = 10, features: readonly string[] = supportedFeatures): Promise<{ logFile: string; stop(): Promise<void> }> {
  const gatewayClass = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GatewayClass',
    metadata: { name: gatewayClassName },
    spec: { controllerName: defaultControllerName, description: 'waygate under the Gateway API conformance suite' },
  };
  await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(gatewayClass) });
  const logFile = join(runDir, 'waygate.log');
  const logger = fileLogger(logFile);
  const configRoot = join(runDir, 'config');
  const agent = await startAgent({ configRoot, runDir: join(runDir, 'nginx'), logger: logger.child({ component: 'agent' }), nginxBinary: nginx.binary, streamModule: nginx.streamModule });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cluster.kubeconfig);
  try {
    const operator = await startOperator({ configRoot, controllerName: defaultControllerName, supportedFeatures: features, logger: logger.child({ component: 'operator' }), kubeConfig, addressBlock, socketDir: agent.socketDir });
    return {
      logFile,
      async stop() {
        await operator.stop();
        await agent.stop();
        await cluster.tryKubectl(['delete', 'gatewayclass', gatewayClassName, '--ignore-not-found', '--wait=false']);
      },
    };
  } catch (err) {
    await agent.stop();
    throw err;
  }
}

export interface SuiteOptions {
  harness: string;
  kubeconfig: string;
  profiles: string[];
  runTest?: string;
  /** Where the report and the harness output go. */
  dir: string;
  echo?: boolean;
  keepGoing?: boolean;
  extraArgs?: string[];
  /** The 127.x/16 block waygate was started with (startWaygate): GatewayStaticAddresses requests an address there. */
  addressBlock?: number;
  /** Called with the running harness, e.g. to kill it on Ctrl-C. */
  onStart?: (p: HarnessProcess) => void;
}

/**
 * GatewayStaticAddresses asks for one usable and one unusable address. With loopback
 * addresses: one in the run's own block that no derived address takes (derived ones have a
 * third octet from 1), and a documentation address (TEST-NET-1) nginx cannot bind here.
 */
export function staticAddressArgs(block: number): string[] {
  return [`-usable-address=127.${block}.0.10`, '-unusable-address=192.0.2.10'];
}

export async function runSuite(o: SuiteOptions): Promise<SuiteRun> {
  const reportPath = join(o.dir, 'report.yaml');
  const outputPath = join(o.dir, 'harness.log');
  rmSync(reportPath, { force: true });
  const startedAt = new Date();
  const proc = startHarness({
    binary: o.harness,
    kubeconfig: o.kubeconfig,
    gatewayClass: gatewayClassName,
    profiles: o.profiles,
    runTest: o.runTest,
    reportPath,
    outputPath,
    echo: o.echo,
    extraArgs: [...(o.keepGoing === false ? ['-waygate-keep-going=false'] : []), ...staticAddressArgs(o.addressBlock ?? 10), ...(o.extraArgs ?? [])],
  });
  o.onStart?.(proc);
  const exitCode = await proc.done;
  return {
    profiles: o.profiles,
    runTest: o.runTest,
    exitCode,
    seconds: (Date.now() - startedAt.getTime()) / 1000,
    startedAt,
    output: parseHarnessOutput(readFileSync(outputPath, 'utf8')),
    report: existsSync(reportPath) ? parseReport(readFileSync(reportPath, 'utf8')) : undefined,
    reportPath,
    outputPath,
  };
}

/** Copies the report into conformance/ and regenerates the README. Returns the report's path. */
export function publish(run: SuiteRun, nginx: NginxInstallation): string | undefined {
  mkdirSync(reportDir, { recursive: true });
  let target: string | undefined;
  if (run.report) {
    target = join(reportDir, `report-${run.profiles.join('+')}.yaml`);
    copyFileSync(run.reportPath, target);
  }
  const reports = readdirSync(reportDir).filter((f) => /^report-.*\.yaml$/.test(f)).sort();
  writeReadme({ run, nginxVersion: nginx.version, reports });
  return target;
}

interface CliOptions {
  profiles: string[];
  runTest?: string;
  keepGoing: boolean;
  nodeAgent: boolean;
  extraArgs: string[];
  /** Features tried on top of the repository's list (never published). */
  features: string[];
}

const usage = `usage: npm run conformance [-- options]
  --profile P        conformance profile, repeatable or comma-separated (default: the five waygate serves,
                     GATEWAY-HTTP,GATEWAY-GRPC,GATEWAY-TLS,GATEWAY-TCP,GATEWAY-UDP)
  --run TestName     run only this test
  --no-keep-going    stop when the suite's Setup fails (upstream behaviour)
  --suite-arg FLAG   pass a flag to the suite, e.g. --suite-arg=-debug
  --feature NAME     also declare this feature (repeatable or comma-separated), to try one
                     before it goes into operator/src/supported-features.json
A run with --run, --suite-arg or --feature leaves its report in the run dir; only a plain run
updates conformance/ (report and README).
  --no-node-agent    harness debugging only: no pod ever becomes Ready`;

export function parseCli(argv: string[]): CliOptions {
  const { values } = parseArgs({
    args: argv,
    allowNegative: true,
    options: {
      profile: { type: 'string', multiple: true },
      run: { type: 'string' },
      'keep-going': { type: 'boolean', default: true },
      'node-agent': { type: 'boolean', default: true },
      'suite-arg': { type: 'string', multiple: true },
      feature: { type: 'string', multiple: true },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.error(usage);
    process.exit(0);
  }
  const profiles = (values.profile ?? servedProfiles).flatMap((p) => p.split(',')).map((p) => p.trim().toUpperCase()).filter(Boolean);
  return { profiles, runTest: values.run, keepGoing: values['keep-going'], nodeAgent: values['node-agent'], extraArgs: values['suite-arg'] ?? [], features: (values.feature ?? []).flatMap((f) => f.split(',')).map((f) => f.trim()).filter(Boolean) };
}

async function main(): Promise<number> {
  const opts = parseCli(process.argv.slice(2));
  const log: Log = (m) => console.error(m);
  const began = Date.now();
  const teardown = new Teardown();
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      interrupted = true;
      log(`\n${sig}: tearing down`);
      void teardown.run(log).finally(() => process.exit(130));
    });
  }
  const base = process.env.WAYGATE_CONFORMANCE_DIR ?? join(tmpdir(), 'waygate-conformance');
  const runDir = join(base, 'run');
  try {
    const { harness, nginx } = await prepare(log);
    rmSync(runDir, { recursive: true, force: true });
    mkdirSync(runDir, { recursive: true });
    const cluster = await startCluster({ stateDir: join(base, 'testbed'), ports: defaultPorts(Number(process.env.WAYGATE_CONFORMANCE_PORT_BASE ?? 29000)), log });
    teardown.add('test bed', () => cluster.stop());
    log(`conformance: test bed up (${cluster.server}, logs in ${join(cluster.stateDir, 'logs')})`);
    if (opts.nodeAgent) {
      const node = await startNode(cluster, join(base, 'node'), join(runDir, 'node-agent.log'), log);
      teardown.add('node agent', () => node.stop());
    } else log('conformance: WITHOUT the node agent (--no-node-agent): no backend pod will be Ready');
    const features = [...new Set([...supportedFeatures, ...opts.features])].sort();
    const extraArgs = [...opts.extraArgs];
    if (opts.features.length) {
      // The harness reads the features from a file: the repository's list plus the tried ones.
      const file = join(runDir, 'features.json');
      writeFileSync(file, JSON.stringify({ features }));
      extraArgs.push(`-waygate-features=${file}`);
    }
    const waygate = await startWaygate(cluster, runDir, nginx, 10, features);
    teardown.add('waygate', () => waygate.stop());
    log(`conformance: logs: operator and agent ${waygate.logFile}, node agent ${join(runDir, 'node-agent.log')}, harness ${join(runDir, 'harness.log')}`);
    log(`conformance: running ${opts.profiles.join(', ')}${opts.runTest ? ` (only ${opts.runTest})` : ''}; export KUBECONFIG=${cluster.kubeconfig} to look around`);
    const run = await runSuite({ harness, kubeconfig: cluster.kubeconfig, profiles: opts.profiles, runTest: opts.runTest, dir: runDir, echo: true, keepGoing: opts.keepGoing, extraArgs, addressBlock: 10, onStart: (p) => teardown.add('harness', () => p.kill()) });
    if (interrupted) return 130; // the harness was killed: nothing to summarise or publish
    console.log(`\n${formatSummary(run)}\n  total time with start-up: ${((Date.now() - began) / 1000).toFixed(0)} s`);
    // Only a finished run of the whole suite as configured in the repository becomes the committed report.
    if (opts.runTest || extraArgs.length || !run.report) log(`conformance: not published (${opts.runTest ? 'single test' : extraArgs.length ? 'custom flags or features' : 'no report'}); run dir ${runDir}`);
    else log(`conformance: report ${publish(run, nginx)}, README conformance/README.md`);
    return runProblems(run).length ? 1 : 0;
  } finally {
    await teardown.run(log);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`conformance: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}

// `waygate standalone DIR`: Gateway API YAML from a directory (watched with chokidar)
// drives a local nginx through the same pipeline and agent as the cluster deployment.
// Status goes to the log and to <runDir>/status.yaml (there is no `kubectl describe`).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { watch } from 'chokidar';
import { startAgent, type Agent } from '../../../nginx/agent/index.ts';
import { Controller } from '../controller.ts';
import type { Logger } from '../log.ts';
import { formatLoadError, loadFiles } from '../sources/files.ts';
import { LocalStatus } from '../status/view.ts';
import { Store } from '../store.ts';
import { groupBy } from '../collections.ts';
import type { KubeObject } from '../objects.ts';

export interface StandaloneOptions {
  dir: string;
  runDir: string;
  controllerName: string;
  supportedFeatures: readonly string[];
  logger: Logger;
  nginxBinary?: string;
}

export interface Standalone {
  store: Store;
  controller: Controller;
  agent: Agent;
  status: LocalStatus;
  /** Re-reads the directory now (the watcher calls this on every change). */
  reload(): void;
  stop(): Promise<void>;
}

export async function startStandalone(opts: StandaloneOptions): Promise<Standalone> {
  const runDir = resolve(opts.runDir);
  const configRoot = join(runDir, 'config');
  mkdirSync(configRoot, { recursive: true, mode: 0o755 });
  const store = new Store();
  const status = new LocalStatus(opts.controllerName);
  let objects: KubeObject[] = [];
  let lastErrors = '';

  const reload = () => {
    const loaded = loadFiles([opts.dir]);
    const errors = loaded.errors.map(formatLoadError).join('\n');
    if (errors !== lastErrors) for (const e of loaded.errors) opts.logger.error(`rejected: ${formatLoadError(e)}`);
    lastErrors = errors;
    objects = loaded.objects;
    const byKind = groupBy(objects, (o) => o.kind);
    for (const kind of new Set([...store.snapshot().keys(), ...byKind.keys()])) store.replaceKind(kind, byKind.get(kind) ?? []);
  };

  const agent = await startAgent({ configRoot, runDir: join(runDir, 'nginx'), nginxBinary: opts.nginxBinary, logger: opts.logger });
  const controller = new Controller({
    store,
    controllerName: opts.controllerName,
    supportedFeatures: opts.supportedFeatures,
    configRoot,
    logger: opts.logger,
    statusSink: async (desired) => {
      for (const key of status.apply(desired)) opts.logger.info(`status ${status.summary(key)}`);
      writeFileSync(join(runDir, 'status.yaml'), status.toYaml(objects));
    },
  });
  reload();
  controller.start();
  const watcher = watch(resolve(opts.dir), { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 } });
  watcher.on('all', () => reload());
  watcher.on('error', (e) => opts.logger.error(`watching ${opts.dir}: ${e}`));

  return {
    store,
    controller,
    agent,
    status,
    reload,
    async stop() {
      await watcher.close();
      controller.stop();
      await agent.stop();
    },
  };
}

// `waygate standalone DIR`: Gateway API YAML from a directory (watched with chokidar)
// drives a local nginx through the same pipeline and agent as the cluster deployment.
// Status goes to the log and to <runDir>/status.yaml (there is no `kubectl describe`).
//
// The run directory holds what the root nginx master loads, so it is private: given
// (--run-dir, checked), $XDG_RUNTIME_DIR/waygate when that is private, else a new mkdtemp
// directory. It starts from the current inputs only: versions of a previous run are removed.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { ensurePrivateDir, privateDirProblem, privateTempDir, startAgent, versionsDir, verdictPath, type Agent } from '../../../nginx/agent/index.ts';
import { Controller } from '../controller.ts';
import type { Logger } from '../log.ts';
import { formatLoadError, loadFiles } from '../sources/files.ts';
import { LocalStatus } from '../status/view.ts';
import { Store } from '../store.ts';
import { groupBy } from '../collections.ts';
import type { KubeObject } from '../objects.ts';

export interface StandaloneOptions {
  dir: string;
  /** Default: $XDG_RUNTIME_DIR/waygate when private, else a new directory under os.tmpdir(). */
  runDir?: string;
  controllerName: string;
  supportedFeatures: readonly string[];
  logger: Logger;
  nginxBinary?: string;
  /** After a reload, old nginx workers keep open connections this long (agent default 5 min). */
  drainTimeoutMs?: number;
  /** Cap on draining nginx workers (agent default 16). */
  maxDrainingWorkers?: number;
  /** Memory budget of draining nginx workers, bytes (agent default 512 MiB). */
  maxDrainingMemoryBytes?: number;
}

export interface Standalone {
  /** The run directory in use (config versions, nginx's files, status.yaml). */
  runDir: string;
  store: Store;
  controller: Controller;
  agent: Agent;
  status: LocalStatus;
  /** Re-reads the directory now (the watcher calls this on every change). */
  reload(): void;
  stop(): Promise<void>;
}

/** The run directory to use, checked or created private; `temporary` when made here (removed on stop). */
export function resolveRunDir(given: string | undefined): { runDir: string; temporary: boolean } {
  if (given !== undefined) return { runDir: ensurePrivateDir(given, { what: 'run directory' }), temporary: false };
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg && !privateDirProblem(xdg)) return { runDir: ensurePrivateDir(join(xdg, 'waygate'), { what: 'run directory' }), temporary: false };
  return { runDir: privateTempDir('waygate-standalone-'), temporary: true };
}

/** One standalone per run directory: a second one would stop the first one's nginx. */
function lock(runDir: string): string {
  const file = join(runDir, 'standalone.pid');
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node')) {
      throw new Error(`run directory ${runDir} is in use by process ${pid}; stop it or choose another --run-dir`);
    }
  } catch (err) {
    if (!['ENOENT', 'ESRCH'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  }
  writeFileSync(file, `${process.pid}\n`, { mode: 0o600 });
  return file;
}

/** What a previous run left: its versions (nginx would serve them until our first rebuild), verdict, keys. */
function clearPreviousRun(runDir: string, configRoot: string): void {
  for (const p of [versionsDir(configRoot), join(configRoot, 'certs'), verdictPath(configRoot), join(runDir, 'status.yaml')]) {
    rmSync(p, { recursive: true, force: true });
  }
}

export async function startStandalone(opts: StandaloneOptions): Promise<Standalone> {
  const { runDir, temporary } = resolveRunDir(opts.runDir === undefined ? undefined : resolve(opts.runDir));
  opts.logger.info(`run directory ${runDir}`);
  let lockFile: string | undefined;
  let agent: Agent | undefined;
  let controller: Controller | undefined;
  let watcher: FSWatcher | undefined;
  const cleanUp = async () => {
    await watcher?.close();
    controller?.stop();
    await agent?.stop();
    if (lockFile) rmSync(lockFile, { force: true });
    if (temporary) rmSync(runDir, { recursive: true, force: true });
  };
  try {
    lockFile = lock(runDir);
    const configRoot = ensurePrivateDir(join(runDir, 'config'), { what: 'config directory', tighten: true });
    clearPreviousRun(runDir, configRoot);
    const store = new Store();
    const status = new LocalStatus(opts.controllerName);
    let objects: KubeObject[] = [];
    let lastErrors = '';

    // Never throws: a file that cannot be loaded is reported and the others are served.
    const reload = () => {
      try {
        const loaded = loadFiles([opts.dir]);
        const errors = loaded.errors.map(formatLoadError).join('\n');
        if (errors !== lastErrors) for (const e of loaded.errors) opts.logger.error(`rejected: ${formatLoadError(e)}`);
        lastErrors = errors;
        objects = loaded.objects;
        const byKind = groupBy(objects, (o) => o.kind);
        for (const kind of new Set([...store.snapshot().keys(), ...byKind.keys()])) store.replaceKind(kind, byKind.get(kind) ?? []);
      } catch (err) {
        opts.logger.error(`reading ${opts.dir}: ${(err as Error).message}`);
      }
    };

    agent = await startAgent({ configRoot, runDir: join(runDir, 'nginx'), nginxBinary: opts.nginxBinary, logger: opts.logger, drainTimeoutMs: opts.drainTimeoutMs, maxDrainingWorkers: opts.maxDrainingWorkers, maxDrainingMemoryBytes: opts.maxDrainingMemoryBytes });
    controller = new Controller({
      store,
      controllerName: opts.controllerName,
      supportedFeatures: opts.supportedFeatures,
      configRoot,
      socketDir: agent.socketDir, // where the agent's nginx workers can reach local sockets (TLS ports)
      logger: opts.logger,
      statusSink: async (desired) => {
        for (const key of status.apply(desired)) opts.logger.info(`status ${status.summary(key)}`);
        writeFileSync(join(runDir, 'status.yaml'), status.toYaml(objects));
      },
    });
    reload();
    controller.start();
    watcher = watch(resolve(opts.dir), { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 } });
    watcher.on('all', () => reload());
    watcher.on('error', (e) => opts.logger.error(`watching ${opts.dir}: ${e}`));
    // A file written between the first read and the end of chokidar's initial scan counts as
    // initial (ignored): read again once the watcher is ready, or it waits for the next change.
    await new Promise<void>((r) => watcher!.once('ready', () => r()));
    reload();

    return { runDir, store, controller, agent, status, reload, stop: cleanUp };
  } catch (err) {
    await cleanUp().catch(() => {});
    throw err;
  }
}

// The pipeline between the edges: store -> graph -> model -> render -> write, and the
// agent's verdict -> status. Changes are coalesced (debounce with a bounded delay);
// rebuilds are serialized and level-triggered: each one recomputes from the whole store.
import { ConfigWriter } from './apply/writer.ts';
import { probeConfig } from './apply/probe.ts';
import { watchVerdicts, type Verdict } from './apply/verdict.ts';
import { findCulprits } from './isolate.ts';
import type { KubeObject } from './objects.ts';
import { buildConfiguration, withRejectedRoutes, type PipelineOptions } from './pipeline.ts';
import { Reason } from './graph/conditions.ts';
import { desiredStatuses, type ProgrammedState } from './graph/status.ts';
import type { Graph } from './graph/types.ts';
import type { GatewayExposureMode } from './graph/exposure.ts';
import { objectLogger, type Logger } from './log.ts';
import type { DesiredStatus } from './status/merge.ts';
import type { Store } from './store.ts';

export interface ControllerOptions {
  store: Store;
  controllerName: string;
  supportedFeatures: readonly string[];
  configRoot: string;
  logger: Logger;
  /** Receives the desired status of every object after each rebuild and verdict. */
  statusSink: (desired: DesiredStatus[], graph: Graph) => Promise<void>;
  /**
   * Quiet time before a rebuild (default 20 ms): short, as a route change is most often a
   * push that nginx serves within milliseconds. Changes during a rebuild are gathered into
   * the next one, so a burst costs few rebuilds all the same.
   */
  debounceMs?: number;
  /** The longest a change waits for quiet (default 500 ms). */
  maxDelayMs?: number;
  /** See GraphOptions.addressBlock. */
  addressBlock?: number;
  /** See GraphOptions.exposure. */
  exposure?: GatewayExposureMode;
  /** Where nginx binds the local sockets of TLS ports (BuildOptions.socketDir): the agent's run directory. */
  socketDir?: string;
  /** Metrics and events (observability/): told about rebuilds and verdicts. */
  observer?: ControllerObserver;
}

/** Hooks for metrics and events. Called synchronously; a throwing observer is logged, never fails the pipeline. */
export interface ControllerObserver {
  rebuilt?(r: RebuildReport): void;
  /** A verdict about the newest version; `blamed` is the key of the route the controller left out for it. */
  verdict?(v: Verdict, blamed: string | undefined): void;
}

export interface RebuildReport {
  durationMs: number;
  /** The rendered files (their size is a metric). */
  files: Readonly<Record<string, string>>;
  /** The version written by this rebuild; undefined when the config was unchanged. */
  version: string | undefined;
  desired: readonly DesiredStatus[];
  graph: Graph;
}

export interface ControllerStats {
  rebuilds: number;
  versionsWritten: number;
  lastRenderMs: number;
}

export class Controller {
  readonly stats: ControllerStats = { rebuilds: 0, versionsWritten: 0, lastRenderMs: 0 };
  private readonly writer: ConfigWriter;
  private readonly rejected = new Map<string, { generation: number | undefined; fingerprint: string; message: string }>();
  /** An nginx rejection that named no object, to be searched before the next rebuild. */
  private untraced: { version: string; error: string } | undefined;
  private lastHash?: string;
  /** Of the last version's peers.txt: endpoints alone changed -> a version the agent applies without a reload. */
  private lastPeersHash?: string;
  private lastVersion?: string;
  private programmed: ProgrammedState = { ok: false, reason: Reason.Pending, message: 'waiting for the first configuration' };
  private timer?: NodeJS.Timeout;
  private firstDirtyAt?: number;
  private running?: Promise<void>;
  private dirty = false;
  /** Something the graph reads changed since the last build (see schedule). */
  private specDirty = true;
  private stopWatch?: () => void;
  private unsubscribe?: () => void;
  private lastGraph?: Graph;

  private readonly opts: ControllerOptions;
  constructor(opts: ControllerOptions) {
    this.opts = opts;
    this.writer = new ConfigWriter(opts.configRoot);
  }

  start(): void {
    this.unsubscribe = this.opts.store.onChange((statusOnly) => this.schedule(!statusOnly));
    this.stopWatch = watchVerdicts(this.opts.configRoot, (v) => this.onVerdict(v));
    this.schedule();
  }

  stop(): void {
    this.unsubscribe?.();
    this.stopWatch?.();
    clearTimeout(this.timer);
  }

  get graph(): Graph | undefined {
    return this.lastGraph;
  }

  /** Resolves when no rebuild is pending or running. */
  async idle(): Promise<void> {
    while (this.timer || this.running) await (this.running ?? new Promise((r) => setTimeout(r, 5)));
  }

  /**
   * A rebuild soon (debounced). `spec`: objects the graph reads changed; without it (a
   * verdict, our own status coming back) only the statuses are recomputed, from the last
   * graph: the configuration cannot have changed.
   */
  schedule(spec = true): void {
    if (spec) this.specDirty = true;
    const now = Date.now();
    this.firstDirtyAt ??= now;
    const debounce = this.opts.debounceMs ?? 20;
    const at = Math.min(now + debounce, this.firstDirtyAt + (this.opts.maxDelayMs ?? 500));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.firstDirtyAt = undefined;
      void this.run();
    }, Math.max(0, at - now));
  }

  private async run(): Promise<void> {
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.running = this.rebuild()
      .catch((e) => { this.opts.logger.error(`rebuild failed: ${(e as Error).stack ?? e}`); })
      .finally(() => {
        this.running = undefined;
        if (this.dirty) {
          this.dirty = false;
          void this.run();
        }
      });
    await this.running;
  }

  private pipelineOptions(): PipelineOptions {
    return {
      controllerName: this.opts.controllerName,
      supportedFeatures: this.opts.supportedFeatures,
      rejected: this.rejected,
      addressBlock: this.opts.addressBlock,
      exposure: this.opts.exposure,
      build: { certDir: this.writer.certsDir, frontSockets: true, ...(this.opts.socketDir ? { socketDir: this.opts.socketDir } : {}) },
      recency: (key) => this.opts.store.lastChanged(key),
    };
  }

  private async rebuild(): Promise<void> {
    if (this.untraced) await this.findCulprits(this.untraced);
    if (!this.specDirty && this.lastGraph) {
      const graph = this.lastGraph;
      await this.opts.statusSink(desiredStatuses(graph, { controllerName: this.opts.controllerName, supportedFeatures: this.opts.supportedFeatures }, this.programmed), graph);
      return;
    }
    this.specDirty = false; // a change during this build sets it again, and schedules another
    const t0 = performance.now();
    const snapshot = this.opts.store.snapshot();
    this.pruneRejected();
    const { graph, config } = buildConfiguration(snapshot, this.pipelineOptions());
    this.stats.rebuilds++;
    this.stats.lastRenderMs = performance.now() - t0;
    this.lastGraph = graph;
    let written: string | undefined;
    if (config.hash !== this.lastHash || config.peersHash !== this.lastPeersHash) {
      const reload = config.hash !== this.lastHash;
      this.lastVersion = written = this.writer.write(config);
      this.lastHash = config.hash;
      this.lastPeersHash = config.peersHash;
      this.stats.versionsWritten++;
      // Endpoints or certificates alone: the agent pushes them, the routes' programming does not change.
      if (reload) this.programmed = { ok: false, reason: Reason.Pending, message: `waiting for nginx to load configuration version ${this.lastVersion}` };
      this.opts.logger.info(`wrote configuration version ${this.lastVersion}`, { routes: graph.routes.length, gateways: graph.gateways.length, ms: Math.round(this.stats.lastRenderMs) });
    }
    const desired = desiredStatuses(graph, { controllerName: this.opts.controllerName, supportedFeatures: this.opts.supportedFeatures }, this.programmed);
    this.notify((o) => o.rebuilt?.({ durationMs: performance.now() - t0, files: config.files, version: written, desired, graph }));
    await this.opts.statusSink(desired, graph);
  }

  private notify(call: (o: ControllerObserver) => void): void {
    if (!this.opts.observer) return;
    try {
      call(this.opts.observer);
    } catch (err) {
      this.opts.logger.error(`observer: ${(err as Error).stack ?? err}`);
    }
  }

  private onVerdict(v: Verdict): void {
    if (v.hash !== this.lastHash) return; // about an older version; a newer verdict follows
    let blamed: string | undefined;
    if (v.ok) {
      this.programmed = { ok: true, reason: Reason.Programmed, message: `nginx serves configuration version ${v.version}` };
    } else {
      this.programmed = { ok: false, reason: Reason.Invalid, message: `nginx rejected configuration version ${v.version}: ${v.error ?? 'unknown error'}` };
      const obj = v.object && this.lastGraph && [...this.lastGraph.routes, ...this.lastGraph.streamRoutes].find((r) => r.key === v.object);
      if (obj) {
        blamed = obj.key;
        // Leave the offending route out until its spec changes; the others keep serving.
        this.rejected.set(obj.key, { generation: obj.obj.metadata.generation, fingerprint: fingerprint(obj.obj), message: `nginx rejected the configuration generated from this route (${v.file}:${v.line}): ${v.error}` });
        objectLogger(this.opts.logger, obj.key).warn(`nginx rejected version ${v.version} at ${v.file}:${v.line}, produced by ${obj.key}; leaving it out`, { error: v.error });
      } else {
        // No line names an object (e.g. a hash nginx cannot build): find it by leaving routes out.
        this.opts.logger.error(`nginx rejected version ${v.version} with an error that names no object; searching for the route that causes it`, { error: v.error, file: v.file, line: v.line });
        this.untraced = { version: v.version, error: v.error ?? 'unknown error' };
      }
    }
    this.notify((o) => o.verdict?.(v, blamed));
    // A blamed route is left out, an untraced error searched for: a new configuration. Otherwise statuses only.
    this.schedule(!!blamed || !!this.untraced);
  }

  /**
   * nginx rejected a version and no line of it names an object: test configurations
   * without the most recently changed routes (probes: `nginx -t` only, never served) and
   * bisect for the routes without which nginx accepts it; reject those, with nginx's error.
   */
  private async findCulprits(untraced: { version: string; error: string }): Promise<void> {
    this.untraced = undefined;
    const t0 = performance.now();
    const snapshot = this.opts.store.snapshot();
    const base = this.pipelineOptions();
    const graph = buildConfiguration(snapshot, base).graph;
    const suspects = [...graph.routes, ...graph.streamRoutes].filter((r) => !r.problem).map((r) => r.key).sort((a, b) => this.opts.store.lastChanged(b) - this.opts.store.lastChanged(a));
    const passes = async (excluded: ReadonlySet<string>) => {
      const { config } = buildConfiguration(snapshot, withRejectedRoutes(base, snapshot, excluded, ''));
      const r = await probeConfig(config, { configRoot: this.opts.configRoot, writeCertificates: (c) => this.writer.writeCertificates(c) });
      return r.ok;
    };
    try {
      const { culprits, tests } = await findCulprits(suspects, passes);
      for (const key of culprits) {
        const [kind, ns, name] = key.split('/');
        const obj = this.opts.store.get(kind as 'HTTPRoute', ns, name ?? '');
        this.rejected.set(key, { generation: obj?.metadata.generation, fingerprint: fingerprint(obj), message: `nginx rejected the configuration with this route, and accepts it without (found by leaving routes out): ${untraced.error}` });
      }
      for (const key of culprits) objectLogger(this.opts.logger, key).warn(`nginx rejected version ${untraced.version} because of ${key} (found by leaving routes out); leaving it out`, { error: untraced.error });
      if (!culprits.length) this.opts.logger.warn(`nginx rejected version ${untraced.version} and no route is the cause`, { tests, ms: Math.round(performance.now() - t0) });
      else this.opts.logger.info(`found ${culprits.length} route(s) causing nginx's rejection of version ${untraced.version}`, { tests, ms: Math.round(performance.now() - t0) });
    } catch (err) {
      this.opts.logger.error(`searching for the cause of nginx's rejection of version ${untraced.version}: ${(err as Error).message}`);
    }
  }

  private pruneRejected(): void {
    for (const [key, r] of this.rejected) {
      const [kind, ns, name] = key.split('/');
      const obj = this.opts.store.get(kind as 'HTTPRoute', ns, name ?? '');
      if (!obj || fingerprint(obj) !== r.fingerprint) this.rejected.delete(key);
    }
  }
}

/** What a rejection is tied to: the generation, or the spec where objects carry none (files). */
function fingerprint(obj: KubeObject | undefined): string {
  return obj?.metadata.generation !== undefined ? `g${obj.metadata.generation}` : JSON.stringify(obj?.spec ?? null);
}

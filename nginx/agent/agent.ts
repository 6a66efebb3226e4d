// The agent: watches <configRoot>/versions, tests the newest complete version with
// `nginx -t`, switches nginx to it with SIGHUP only when the test passes, proves the new
// workers serve it (status endpoint on a unix socket), and writes a verdict.
import { chmodSync, closeSync, existsSync, fchmodSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import winston from 'winston';
import type { TrafficLogTarget } from './access-log.ts';
import { composeMainConfig, runPaths } from './config.ts';
import {
  capErrorLog,
  childrenOf,
  DEFAULT_NGINX,
  errorLogSize,
  errorLogTail,
  NginxMaster,
  parseTestError,
  readErrorLogFrom,
  reloadFailure,
  runningMasterFromPidFile,
  servingWorkers,
  testConfig,
  workerState,
} from './nginx.ts';
import { ensurePrivateDir, privateTempDir } from './private-dir.ts';
import { answerProbes } from './probes.ts';
import { DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_MAX_DRAINING_MEMORY, DEFAULT_MAX_DRAINING_WORKERS, enforceDrainLimit, workerStats, type WorkerStats } from './drain.ts';
import { announceGeneration } from './generation.ts';
import { pushPeers, readPeers } from './peers.ts';
import { pushCertificates, readCertificates } from './certs.ts';
import { pushRoutes, readRoutes, withPreviousHosts } from './routes.ts';
import { TlsOrigins } from './tls-origin.ts';
import { writeVerdict, type Verdict } from './verdict.ts';
import { probeVersion, waitForVersion } from './verify.ts';
import { compareVersions, listComplete, objectAt, prune, readMeta, versionDir, versionsDir, type VersionMeta } from './versions.ts';

export type { Verdict } from './verdict.ts';

export interface AgentOptions {
  configRoot: string;
  runDir: string;
  /**
   * A pod volume (emptyDir) that holds runDir, seen by this pod's containers only: its
   * ownership and mode are not checked (an emptyDir is root-owned, mode 0777), runDir is.
   */
  runDirVolume?: string;
  /** Default /usr/sbin/nginx. */
  nginxBinary?: string;
  /** Default 'auto'. */
  workerProcesses?: number | 'auto';
  /** A file, 'stdout', or false (off). Default <runDir>/access.log. */
  accessLog?: string | false;
  logger?: winston.Logger;
  /** How long to wait for the workers to serve a new version after SIGHUP (default 10 s). */
  verifyTimeoutMs?: number;
  /** Rescan the versions directory this often besides watching it (default 10 s; 0 = never). */
  rescanIntervalMs?: number;
  /** load_module path of the stream module (default Debian's). */
  streamModule?: string;
  /**
   * Where nginx's temp directories go. Default: the run dir, except when nginx runs as root:
   * its workers run as another user and cannot enter the private (0700) run dir, so a new
   * mkdtemp directory (0711, removed on stop) holds them.
   */
  tempDir?: string;
  /** Send nginx's per-route traffic log to this receiver (access-log.ts). */
  trafficLog?: TrafficLogTarget;
  /** How long old workers keep open connections after a reload (worker_shutdown_timeout; default 5 min). */
  drainTimeoutMs?: number;
  /** At most this many draining workers; beyond, the oldest are ended (drain.ts; default 16). */
  maxDrainingWorkers?: number;
  /** At most this much memory (PSS) in draining workers together; beyond, the oldest are ended (default 512 MiB). */
  maxDrainingMemoryBytes?: number;
  /** How long the TLS hop's retired sockets wait for the old workers at most (default 240 s, worker_shutdown_timeout). */
  tlsOriginDrainMs?: number;
}

export interface Agent {
  /** The version now serving (undefined: none, nginx runs an empty config). */
  readonly live: string | undefined;
  /**
   * Where nginx may bind local sockets (TLS ports fronted by the stream block) so that its
   * workers can connect: the run directory when they run as the agent's user; as root, whose
   * workers are nobody, the 0711 temp directory (nginx makes its unix sockets 0666).
   */
  readonly socketDir: string;
  onVerdict(cb: (v: Verdict) => void): () => void;
  /** nginx's workers now: serving and draining (old generations), their memory; draining workers ended at the cap so far. */
  workers(): WorkerStats & { ended: number };
  /** Documents sent to nginx's shared dicts since start (an unchanged one is not sent again). */
  pushes(): Readonly<Record<PushedDocument, number>>;
  /** Resolves when the agent has processed every complete version present now. */
  settled(): Promise<void>;
  /** Stops nginx gracefully (SIGQUIT, then SIGKILL after 5 s) and closes the watcher. */
  stop(): Promise<void>;
}

/**
 * Unix sockets nginx listens on (local hops: wg-h-, wg-r-, wg-t-, gRPC/h2c fronts, wg-mirror...)
 * that a master killed hard (SIGKILL, OOM) left behind: nginx cannot bind a socket whose file
 * exists, so the next master would fail to start. The agent's own TLS-hop sockets (wg-o-) stay.
 */
export function removeStaleNginxSockets(socketDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(socketDir);
  } catch {
    return [];
  }
  const stale = names.filter((n) => /^wg-.+\.sock$/.test(n) && !n.startsWith('wg-o-'));
  for (const n of stale) rmSync(join(socketDir, n), { force: true });
  return stale;
}

export async function startAgent(opts: AgentOptions): Promise<Agent> {
  const agent = new NginxAgent(opts);
  try {
    await agent.start();
  } catch (err) {
    await agent.stop().catch(() => {});
    throw err;
  }
  return agent;
}

interface Judged {
  ok: boolean;
  reloaded: boolean;
  error?: string;
  file?: string;
  line?: number;
  object?: string;
  /** Problems of the version's TLS hop manifest (its other entries and the config are served). */
  warnings?: string[];
}

class NginxAgent implements Agent {
  private readonly configRoot: string;
  private readonly runDir: string;
  private readonly binary: string;
  private readonly log: winston.Logger;
  private readonly verifyTimeoutMs: number;
  /** How long the last `nginx -t` took: a reload or start parses the same config again. */
  private lastTestMs = 0;

  /**
   * How long to wait for nginx to serve a version: the configured time, or more for a config
   * nginx takes long to parse (10,000 routes: seconds), else a big config's every reload
   * would be judged a failure and the gateway stuck on its last small one.
   */
  private get verifyBudgetMs(): number {
    return Math.max(this.verifyTimeoutMs, 3 * this.lastTestMs + 2000);
  }
  private readonly opts: AgentOptions;
  private readonly paths: ReturnType<typeof runPaths>;
  private readonly master: NginxMaster;
  private readonly listeners = new Set<(v: Verdict) => void>();

  /** The version adopted last (may share its files with `serving` when the hash was equal). */
  private liveVersion: string | undefined;
  private liveHash: string | undefined;
  /** The version directory the running main config includes, and what its status endpoint answers. */
  private serving: string | undefined;
  /** The newest version judged (a verdict was written for it). */
  private judged: string | undefined;

  private watcher: FSWatcher | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private dirty = false;
  private stopping = false;
  private restartDelay = 0;
  private tempDir: string | undefined;
  private stopProbes: (() => Promise<void>) | undefined;
  private ownTempDir = false;
  private drainEnded = 0;
  /** Upstreams of older configs stay in the peers dict until no draining worker may still use them. */
  private prunePending = false;
  /** What nginx's shared dicts hold, as pushed: nothing after a start. */
  private pushed: Pushed = nothingPushed();
  private readonly pushCounts: Record<PushedDocument, number> = { peers: 0, routes: 0, certificates: 0 };
  /** The TLS hop's listeners (tls-origin.ts), opened per version before nginx loads it. */
  private origins: TlsOrigins | undefined;
  /** Stops nginx if this process exits without stop() (an uncaught error, process.exit). */
  private readonly onProcessExit = () => {
    this.master.killOnExit();
    if (this.ownTempDir && this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
  };

  constructor(opts: AgentOptions) {
    this.opts = opts;
    this.configRoot = resolve(opts.configRoot);
    this.runDir = resolve(opts.runDir);
    this.binary = opts.nginxBinary ?? DEFAULT_NGINX;
    this.log = opts.logger ?? winston.createLogger({ level: 'warn', transports: [new winston.transports.Console()] });
    this.verifyTimeoutMs = opts.verifyTimeoutMs ?? 10_000;
    this.paths = runPaths(this.runDir);
    this.master = new NginxMaster({ binary: this.binary, runDir: this.runDir, logger: this.log });
    this.master.onExit((code, signal) => {
      if (this.stopping || !this.watcher) return; // while starting, start() handles it
      this.log.error(`nginx master exited unexpectedly (${code ?? signal}); restarting it`, { component: 'agent' });
      this.schedule();
    });
  }

  get socketDir(): string {
    return this.tempDir ?? this.runDir;
  }

  get live(): string | undefined {
    return this.liveVersion;
  }

  workers(): WorkerStats & { ended: number } {
    return { ...workerStats(this.master.pid), ended: this.drainEnded };
  }

  pushes(): Readonly<Record<PushedDocument, number>> {
    return { ...this.pushCounts };
  }

  /** Ends the oldest draining workers beyond the cap, so reloads cannot pile up old generations. */
  private limitDraining(): void {
    const pid = this.master.pid;
    if (!pid) return;
    const max = this.opts.maxDrainingWorkers ?? DEFAULT_MAX_DRAINING_WORKERS;
    const maxBytes = this.opts.maxDrainingMemoryBytes ?? DEFAULT_MAX_DRAINING_MEMORY;
    const ended = enforceDrainLimit(pid, max, maxBytes);
    if (!ended.length) return;
    this.drainEnded += ended.length;
    this.log.warn(`ended draining nginx workers ${ended.join(', ')}: more than ${max} draining or ${Math.round(maxBytes / 1048576)} MiB (their open connections close)`, { component: 'agent' });
  }

  onVerdict(cb: (v: Verdict) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  async settled(): Promise<void> {
    if (this.stopping) return;
    this.schedule();
    while (this.loop) await this.loop;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.rescanTimer);
    await this.watcher?.close();
    this.watcher = undefined;
    await this.stopProbes?.();
    while (this.loop) await this.loop; // let a test/reload in progress finish
    await this.master.stop(5000);
    await this.origins?.close();
    process.removeListener('exit', this.onProcessExit);
    if (this.ownTempDir && this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
  }

  // --- start -----------------------------------------------------------------------------

  async start(): Promise<void> {
    // Private: nginx.conf, the logs (request headers in PCRE errors) and the status socket live here.
    ensurePrivateDir(this.runDir, { what: 'run directory', tighten: true, trustedParent: this.opts.runDirVolume });
    mkdirSync(versionsDir(this.configRoot), { recursive: true });
    this.tempDir = this.opts.tempDir;
    if (this.tempDir === undefined && process.getuid?.() === 0) {
      this.tempDir = privateTempDir('waygate-nginx-temp-');
      this.ownTempDir = true;
      chmodSync(this.tempDir, 0o711); // workers (nobody) enter it; nginx makes its *_temp dirs 0700 for them
    }
    this.origins = new TlsOrigins({ socketDir: this.socketDir, logger: this.log, drainMs: this.opts.tlsOriginDrainMs ?? this.opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS });
    process.on('exit', this.onProcessExit);
    await this.stopLeftoverMaster();
    rmSync(this.paths.socket, { force: true }); // nginx cannot bind a unix socket whose file exists
    rmSync(this.paths.candidate, { force: true });

    const all = listComplete(this.configRoot);
    const newest = all.at(-1);
    let newestFailure: Judged | undefined;
    let newestMeta: VersionMeta | undefined;
    const t0 = performance.now();
    // The newest version that passes `nginx -t` and starts; else an empty config.
    for (const v of [...all].reverse()) {
      const attempt = await this.startWith(v);
      if (v === newest) {
        newestMeta = attempt.meta;
        if (!attempt.ok) newestFailure = attempt.judged;
      }
      if (attempt.ok) break;
    }
    if (!this.master.running) {
      const empty = await this.startWith(undefined);
      if (!empty.ok) throw new Error(`nginx does not start even with an empty config: ${empty.judged.error}`);
    }
    this.judged = newest;
    this.emit({
      version: newest ?? '',
      hash: newestMeta?.hash ?? '',
      ...(newest === undefined ? { ok: true, reloaded: false } : (newestFailure ?? { ok: true, reloaded: true })),
      durationMs: Math.round(performance.now() - t0),
    });
    this.prune();

    const root = versionsDir(this.configRoot);
    const watcher = watch(root, {
      depth: 1,
      ignoreInitial: true,
      ignored: (p: string) => relative(root, p).startsWith('.tmp-'), // a .tmp-* directory or anything in it
    });
    this.watcher = watcher;
    watcher.on('addDir', () => this.kick());
    watcher.on('add', (p: string) => p.endsWith(`${sep}meta.json`) && this.kick());
    watcher.on('error', (err) => this.log.warn(`watching ${root}: ${(err as Error).message}`, { component: 'agent' }));
    await new Promise<void>((r) => watcher.once('ready', () => r()));
    const every = this.opts.rescanIntervalMs ?? 10_000;
    // The rescan also keeps the error log bounded between reloads (a flood of error lines
    // must not fill the run directory's volume).
    // And it applies the draining-worker limits again: a draining worker's memory grows after
    // the reload that checked it, as the master reuses the old configuration's pages.
    if (every > 0) this.rescanTimer = setInterval(() => { capErrorLog(this.runDir); this.limitDraining(); this.schedule(); }, every).unref();
    this.schedule(); // versions written while we were starting
    this.stopProbes = await answerProbes({ configRoot: this.configRoot, runDir: this.runDir, binary: this.binary, streamModule: this.opts.streamModule, tempDir: this.tempDir, logger: this.log });
  }

  /** A master left behind by a previous agent on this run directory (it crashed): stop it. */
  private async stopLeftoverMaster(): Promise<void> {
    const pid = runningMasterFromPidFile(this.runDir);
    if (!pid) return;
    this.log.warn(`stopping nginx master ${pid} left behind in ${this.runDir}`, { component: 'agent' });
    const alive = () => existsSync(`/proc/${pid}`);
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      return;
    }
    for (let i = 0; i < 250 && alive(); i++) await sleep(20);
    if (alive()) {
      for (const p of [pid, ...childrenOf(pid)]) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    for (let i = 0; i < 100 && alive(); i++) await sleep(20);
  }

  /** Starts nginx with `version` (undefined = empty config) if it passes `nginx -t`. */
  private async startWith(version: string | undefined): Promise<{ ok: boolean; judged: Judged; meta?: VersionMeta }> {
    let meta: VersionMeta | undefined;
    if (version !== undefined) {
      try {
        meta = readMeta(this.configRoot, version);
      } catch (err) {
        return { ok: false, judged: { ok: false, reloaded: false, error: (err as Error).message } };
      }
    }
    // The TLS hop's sockets exist before nginx may connect to them.
    const warnings = await this.origins!.prepare(version === undefined ? undefined : versionDir(this.configRoot, version));
    const tested = await this.test(version, meta);
    if (!tested.ok) {
      this.origins!.abort();
      return { ok: false, judged: tested, meta };
    }
    renameSync(this.paths.candidate, this.paths.conf);
    rmSync(this.paths.socket, { force: true }); // a master that failed to start may leave it behind
    removeStaleNginxSockets(this.socketDir);
    const offset = errorLogSize(this.runDir);
    this.pushed = nothingPushed(); // a new master's shared dicts are empty
    this.master.start();
    const r = await waitForVersion(this.paths.socket, version ?? '', {
      timeoutMs: this.verifyBudgetMs,
      failure: () => (this.master.running ? undefined : `nginx exited: ${this.master.recentStderr.trim() || errorLogTail(this.runDir, offset)}`),
    });
    if (!r.ok) {
      await this.master.stop(2000);
      this.origins!.abort();
      const error = `nginx did not start: ${r.reason}`;
      this.log.warn(`version ${version ?? '(empty)'}: ${error}`, { component: 'agent' });
      return { ok: false, judged: { ok: false, reloaded: false, error }, meta };
    }
    this.protectSocket();
    this.origins!.commit([]);
    // A new master has an empty peers dict: fill it (upstreams answer 503 until then) before
    // the version is live, which is what makes the pod ready for traffic.
    const pushed = await this.pushPeersOf(version, true);
    if (pushed) warnings.push(pushed);
    this.setLive(version, meta?.hash, version);
    this.restartDelay = 0;
    this.log.info(`nginx serves version ${version ?? '(empty)'}`, { component: 'agent' });
    return { ok: true, judged: { ok: true, reloaded: true, ...(warnings.length ? { warnings } : {}) }, meta };
  }

  // --- the loop ----------------------------------------------------------------------------

  /**
   * A watcher event: process now. A version appears complete (renamed into place), so there
   * is nothing to wait for; the events of a burst while the loop runs only make it look for
   * the newest version once more (a route's first request waited 25 ms here before).
   */
  private kick(): void {
    if (!this.stopping) this.schedule();
  }

  /** One loop at a time processes the newest version; events while it runs make it go again. */
  private schedule(): void {
    if (this.stopping) return;
    this.dirty = true;
    this.loop ??= this.run().finally(() => (this.loop = undefined));
  }

  private async run(): Promise<void> {
    while (this.dirty && !this.stopping) {
      this.dirty = false;
      try {
        if (!this.master.running) await this.restart();
        else {
          await this.step();
          if (this.prunePending) await this.prunePeers();
        }
      } catch (err) {
        this.log.error(`agent: ${(err as Error).stack ?? err}`, { component: 'agent' });
      }
    }
  }

  /** nginx died: start it again on the last good config, then look for new versions. */
  private async restart(): Promise<void> {
    if (this.restartDelay) await sleep(this.restartDelay);
    if (this.stopping) return;
    rmSync(this.paths.socket, { force: true });
    removeStaleNginxSockets(this.socketDir);
    this.prepareLogs();
    const offset = errorLogSize(this.runDir);
    this.pushed = nothingPushed(); // a new master's shared dicts are empty
    this.master.start();
    const r = await waitForVersion(this.paths.socket, this.serving ?? '', {
      timeoutMs: this.verifyBudgetMs,
      failure: () => (this.master.running ? undefined : `nginx exited: ${this.master.recentStderr.trim() || errorLogTail(this.runDir, offset)}`),
    });
    if (!r.ok) {
      this.log.error(`restarting nginx failed: ${r.reason}`, { component: 'agent' });
      await this.master.stop(2000);
      this.restartDelay = Math.min(30_000, Math.max(500, this.restartDelay * 2));
      this.dirty = true;
      return;
    }
    this.protectSocket();
    this.restartDelay = 0;
    // The restarted master's peers dict is empty: the live version's peers (maybe newer than the config it serves).
    await this.pushPeersOf(this.liveVersion, true);
    this.dirty = true; // and now the versions
  }

  private async step(): Promise<void> {
    const newest = listComplete(this.configRoot).at(-1);
    if (newest === undefined) return;
    if (this.judged !== undefined && compareVersions(newest, this.judged) <= 0) return;
    this.judged = newest;
    const t0 = performance.now();
    let meta: VersionMeta | undefined;
    let judged: Judged;
    try {
      meta = readMeta(this.configRoot, newest);
      judged = await this.apply(newest, meta);
    } catch (err) {
      judged = { ok: false, reloaded: false, error: (err as Error).message };
    }
    this.emit({ version: newest, hash: meta?.hash ?? '', ...judged, durationMs: Math.round(performance.now() - t0) });
    this.prune();
  }

  private async apply(version: string, meta: VersionMeta): Promise<Judged> {
    if (meta.hash && meta.hash === this.liveHash) {
      // Same config files: no reload; its peers (endpoints) may differ and go to nginx directly.
      const failed = await this.pushPeersOf(version, true);
      if (failed) return { ok: false, reloaded: false, error: failed };
      this.setLive(version, meta.hash, this.serving);
      return { ok: true, reloaded: false };
    }
    // The TLS hop's sockets of this version exist before nginx may connect to them.
    const warnings = await this.origins!.prepare(versionDir(this.configRoot, version));
    const tested = await this.test(version, meta);
    if (!tested.ok) {
      this.origins!.abort();
      return tested;
    }

    capErrorLog(this.runDir);
    const offset = errorLogSize(this.runDir);
    const previous = readFileSync(this.paths.conf, 'utf8');
    // The new workers find their upstreams' peers and the route table at once; the old ones' upstreams stay
    // until pruned below. Not pushed: the new config would route with the old table, so it is not loaded.
    const before = await this.pushPeersOf(version, false);
    if (before) {
      rmSync(this.paths.candidate, { force: true });
      this.origins!.abort();
      return { ok: false, reloaded: false, error: before };
    }
    const oldWorkers = servingWorkers(this.master.pid!);
    // From here the old workers ask HTTP/1.x clients to close (drain.lua), until they get QUIT.
    await this.announce(version);
    const deadline = Date.now() + this.verifyBudgetMs;
    renameSync(this.paths.candidate, this.paths.conf);
    this.master.reload();
    const r = await waitForVersion(this.paths.socket, version, {
      timeoutMs: this.verifyBudgetMs,
      failure: () => reloadFailure(readErrorLogFrom(this.runDir, offset), this.master.pid) ?? (this.master.running ? undefined : 'nginx exited'),
    });
    if (r.ok || (await probeVersion(this.paths.socket)) === version) {
      // New workers serve it; until the old ones get their QUIT they still accept connections too.
      await this.oldWorkersStopped(oldWorkers, deadline);
      await this.announce(undefined); // exiting workers close their connections themselves
      this.limitDraining();
      this.protectSocket();
      // Sockets only the previous version used close once its workers are gone (requests in flight there).
      this.origins!.commit(oldWorkers);
      this.setLive(version, meta.hash, version);
      const after = await this.pushPeersOf(version, true);
      if (after) warnings.push(after);
      return { ok: true, reloaded: true, ...(warnings.length ? { warnings } : {}) };
    }
    // Not confirmed: the master keeps its old workers. Put the old config back on disk so a
    // restart or a manual reload does not pick up the rejected one.
    const tmp = `${this.paths.conf}.restore`;
    writeFileSync(tmp, previous);
    renameSync(tmp, this.paths.conf);
    this.origins!.abort();
    await this.announce(undefined);
    const reason = r.reason.startsWith('timed out') ? `${r.reason}\n${errorLogTail(this.runDir, offset)}`.trim() : r.reason;
    this.log.warn(`version ${version}: reload not confirmed: ${reason}`, { component: 'agent' });
    return { ok: false, reloaded: false, error: `reload not confirmed: ${reason}` };
  }

  /**
   * Pushes the peers and the HTTPS certificates of `version` (none: empty documents) into
   * nginx's shared dicts; with `prune` upstreams and certificate keys it does not name are
   * removed. Returns the error message on failure.
   */
  private async pushPeersOf(version: string | undefined, prune: boolean): Promise<string | undefined> {
    try {
      const dir = version === undefined ? undefined : versionDir(this.configRoot, version);
      const doc = dir === undefined ? '' : readPeers(dir);
      const certs = dir === undefined ? Buffer.alloc(0) : readCertificates(dir);
      // Draining workers run older configs whose upstreams may be gone from `doc`: prune later (prunePeers).
      const now = prune && workerStats(this.master.pid).draining === 0;
      // Workers of an older config still route the hosts it served from the table (a host
      // that moves to a server block must not become a 404 there): keep them until pruning.
      const routes = dir === undefined ? '' : readRoutes(dir);
      const pushed = this.pushed;
      const table = now ? routes : withPreviousHosts(routes, pushed.routes);
      // A document nginx already holds is not sent again: at 10,000 routes each push is a
      // parse and thousands of dict writes, on the way to a route's first request.
      this.pushed = { ...pushed, peers: undefined, certs: undefined }; // unknown if a push fails midway
      // Peers first, pruned only once the table no longer names what pruning removes.
      const count = (d: PushedDocument) => this.pushCounts[d]++;
      const samePeers = pushed.peers === doc;
      const sameTable = table === pushed.routes;
      // Unpruned first when the table changes: the pruned push waits until no table names what it removes.
      if (!samePeers && !(now && sameTable)) await pushPeers(this.paths.socket, doc, false).then(() => count('peers'));
      if (!sameTable) await pushRoutes(this.paths.socket, table).then(() => count('routes'));
      this.pushed.routes = table;
      const peersPruned = now || (samePeers && pushed.peersPruned);
      if (now && !(samePeers && pushed.peersPruned)) await pushPeers(this.paths.socket, doc, true).then(() => count('peers'));
      const sameCerts = !!pushed.certs && pushed.certs.equals(certs);
      if (!sameCerts || (now && !pushed.certsPruned)) await pushCertificates(this.paths.socket, certs, now).then(() => count('certificates'));
      this.pushed = { routes: table, peers: doc, peersPruned, certs, certsPruned: now || (sameCerts && pushed.certsPruned) };
      this.prunePending = prune && !now;
      return undefined;
    } catch (err) {
      const message = `version ${version ?? '(empty)'}: ${(err as Error).message}`;
      this.log.warn(message, { component: 'agent' });
      return message;
    }
  }

  /** Removes the upstreams of older configs from the peers dict once no draining worker is left (the rescan brings the loop here). */
  private async prunePeers(): Promise<void> {
    if (workerStats(this.master.pid).draining > 0) return;
    await this.pushPeersOf(this.liveVersion, true);
  }

  /** Waits until the workers of the previous config stopped accepting connections (they may still finish requests). */
  private async oldWorkersStopped(workers: number[], deadline: number): Promise<void> {
    let left = workers;
    while ((left = left.filter((p) => workerState(p) === 'serving')).length > 0) {
      if (Date.now() > deadline) {
        this.log.warn(`old nginx workers ${left.join(', ')} still accept connections`, { component: 'agent' });
        return;
      }
      await sleep(5);
    }
    // The title changes just before the worker closes its listening sockets.
    if (workers.length) await sleep(5);
  }

  /** Names the generation being loaded (or none) to the workers; a failure costs only the drain, not the reload. */
  private async announce(version: string | undefined): Promise<void> {
    await announceGeneration(this.paths.socket, version, this.verifyBudgetMs + 5000).catch((err: Error) =>
      this.log.warn(
        version === undefined
          ? `${err.message}; the old workers' request to close keep-alive connections ends when it expires`
          : `version ${version}: ${err.message}; keep-alive connections are not drained before this reload`,
        { component: 'agent' },
      ),
    );
  }

  /** Writes the candidate main config for `version` and runs `nginx -t` on it. */
  private async test(version: string | undefined, meta: VersionMeta | undefined): Promise<Judged> {
    const dir = version === undefined ? undefined : versionDir(this.configRoot, version);
    this.prepareLogs(); // `nginx -t`, a start and a reload all open the logs
    writeFileSync(
      this.paths.candidate,
      composeMainConfig({
        runDir: this.runDir,
        versionDir: dir,
        version: version ?? '',
        workerProcesses: this.opts.workerProcesses,
        accessLog: this.opts.accessLog,
        streamModule: this.opts.streamModule,
        tempDir: this.tempDir,
        trafficLog: this.opts.trafficLog,
        drainTimeoutMs: this.opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
      }),
    );
    const t0 = performance.now();
    const r = await testConfig(this.binary, this.runDir, this.paths.candidate);
    this.lastTestMs = performance.now() - t0;
    if (r.ok) return { ok: true, reloaded: false };
    rmSync(this.paths.candidate, { force: true });
    const where = parseTestError(r.output, dir, [this.paths.candidate, this.paths.conf]);
    const object = objectAt(meta, where.file, where.line);
    this.log.warn(`version ${version ?? '(empty)'} fails nginx -t${object ? ` (${object})` : ''}: ${r.output}`, { component: 'agent' });
    return { ok: false, reloaded: false, error: r.output, ...where, ...(object ? { object } : {}) };
  }

  /**
   * nginx creates a missing log file 0644 and keeps an existing file's mode: create them 0600
   * first (PCRE errors in error.log quote request header values; access.log has the requests).
   */
  private prepareLogs(): void {
    const logs = [this.paths.errorLog];
    if (this.opts.accessLog === undefined) logs.push(join(this.runDir, 'access.log'));
    for (const file of logs) {
      const fd = openSync(file, 'a', 0o600);
      try {
        fchmodSync(fd, 0o600);
      } finally {
        closeSync(fd);
      }
    }
  }

  /** nginx creates the status socket with the umask's mode: only its owner may connect. */
  private protectSocket(): void {
    try {
      chmodSync(this.paths.socket, 0o600);
    } catch (err) {
      this.log.warn(`protecting ${this.paths.socket}: ${(err as Error).message}`, { component: 'agent' });
    }
  }

  private setLive(version: string | undefined, hash: string | undefined, serving: string | undefined): void {
    this.liveVersion = version;
    this.liveHash = hash;
    this.serving = serving;
  }

  private prune(): void {
    try {
      const removed = prune(this.configRoot, [this.liveVersion, this.serving, this.judged]);
      if (removed.length) this.log.debug(`pruned versions ${removed.join(', ')}`, { component: 'agent' });
    } catch (err) {
      this.log.warn(`pruning versions: ${(err as Error).message}`, { component: 'agent' });
    }
  }

  private emit(p: Omit<Verdict, 'at' | 'live'>): void {
    const verdict: Verdict = {
      version: p.version,
      hash: p.hash,
      ok: p.ok,
      ...(p.error !== undefined ? { error: p.error } : {}),
      ...(p.file !== undefined ? { file: p.file } : {}),
      ...(p.line !== undefined ? { line: p.line } : {}),
      ...(p.object !== undefined ? { object: p.object } : {}),
      ...(p.warnings?.length ? { warnings: p.warnings } : {}),
      reloaded: p.reloaded,
      at: new Date().toISOString(),
      durationMs: p.durationMs,
      live: this.liveVersion ?? '',
    };
    try {
      writeVerdict(this.configRoot, verdict);
    } catch (err) {
      this.log.error(`writing the verdict: ${(err as Error).message}`, { component: 'agent' });
    }
    const level = verdict.ok ? 'info' : 'warn';
    this.log.log(level, `verdict for version ${verdict.version || '(none)'}: ${verdict.ok ? 'ok' : 'rejected'}`, {
      component: 'agent',
      verdict,
    });
    for (const cb of this.listeners) {
      try {
        cb(verdict);
      } catch (err) {
        this.log.error(`verdict listener: ${(err as Error).message}`, { component: 'agent' });
      }
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type PushedDocument = 'peers' | 'routes' | 'certificates';

/** The documents in nginx's shared dicts; `peers`/`certs` undefined: not known (a start, a failed push). */
interface Pushed {
  routes: string;
  peers: string | undefined;
  /** The peers dict holds `peers` and nothing else (pushed with prune). */
  peersPruned: boolean;
  certs: Buffer | undefined;
  certsPruned: boolean;
}

const nothingPushed = (): Pushed => ({ routes: '', peers: undefined, peersPruned: false, certs: undefined, certsPruned: false });

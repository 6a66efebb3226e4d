// One container of a pod as a local process: started inside the pod's network namespace
// with its own mount and UTS namespaces, its output captured to CRI log files, restarted
// with backoff according to the pod's restartPolicy, probed for readiness, and reported
// with the states the kubelet reports.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { quoteArgs } from '../exec.ts';
import { captureStream } from './logfile.ts';
import { runHook, runProbe, type ExecContext } from './probes.ts';
import { nowTime, type Container, type ContainerState, type ContainerStatus } from './types.ts';

/** Absolute paths of the programs a container is started with (its PATH may differ). */
export interface Tools {
  ip: string;
  unshare: string;
  bash: string;
  setpriv: string;
}

export interface ContainerDeps {
  podUid: string;
  podDir: string;
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  onChange: () => void;
  log: (msg: string) => void;
  backoff: { initialMs: number; maxMs: number };
}

export interface Launch {
  netns: string;
  podIP: string;
  hostname: string;
  argv: string[];
  env: Record<string, string>;
  /** Shell commands run in the container's mount namespace before its program: they build
   * its root filesystem at `root` (mounts.ts rootCommands). */
  setup: string[];
  root: string;
  workingDir?: string;
  /** The program is a host file, opened before the mounts (else looked up in the new root). */
  hostProgram: boolean;
  /** setpriv options: user, group, capabilities (security.ts). */
  setpriv: string[];
  uid: number;
  gid: number;
  imageID: string;
}

/** Exit code of the wrapper when it cannot start the program (kubelet: StartError). */
const setupFailed = 125;

export class ContainerRunner {
  state: ContainerState = { waiting: { reason: 'ContainerCreating' } };
  lastState: ContainerState = {};
  restartCount = 0;
  ready = false;
  imageID = '';
  private child: ChildProcess | undefined;
  private runs = 0;
  /** Log files whose run has ended and whose output is all written. */
  private readonly flushedLogs = new Set<string>();
  private startedMs = 0;
  private restartAtMs = 0;
  private failures = 0;
  private stopping = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private probeStreak = { ok: 0, failed: 0 };
  private exited: Promise<void> = Promise.resolve();
  private launch: Launch | undefined;
  /** Liveness and startup probe timers, and whether the startup probe has passed. */
  private healthTimer: NodeJS.Timeout | undefined;
  private startedProbe = false;

  readonly spec: Container;
  private readonly deps: ContainerDeps;
  private readonly tools: Tools;
  constructor(
    spec: Container,
    deps: ContainerDeps,
    tools: Tools,
  ) {
    this.spec = spec;
    this.deps = deps;
    this.tools = tools;
  }

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !!this.state.running;
  }

  /** Whether the pod worker should (re)start it now. */
  needsStart(now = Date.now()): boolean {
    if (this.stopping || this.child) return false;
    if (this.state.terminated) {
      const { exitCode } = this.state.terminated;
      if (this.deps.restartPolicy === 'Never' || (this.deps.restartPolicy === 'OnFailure' && exitCode === 0)) return false;
    }
    return now >= this.restartAtMs;
  }

  /** Never started and cannot start yet: the reason is shown as the waiting state. */
  setWaiting(reason: string, message: string): void {
    if (this.child) return;
    if (this.state.terminated) this.lastState = { terminated: this.state.terminated };
    if (this.state.waiting?.reason === reason && this.state.waiting.message === message) return;
    this.state = { waiting: { reason, message } };
    this.deps.log(`${this.name}: ${reason}: ${message}`);
    this.deps.onChange();
  }

  private logFile(): string {
    const dir = join(this.deps.podDir, 'logs', this.name);
    mkdirSync(dir, { recursive: true });
    return join(dir, `${this.restartCount}.log`);
  }

  logPath(previous = false): string | undefined {
    if (previous && this.restartCount === 0) return undefined;
    return join(this.deps.podDir, 'logs', this.name, `${previous ? this.restartCount - 1 : this.restartCount}.log`);
  }

  /** True once the run writing `file` has ended and its last output is in the file. */
  logComplete(file: string): boolean {
    return this.flushedLogs.has(file);
  }

  start(l: Launch): void {
    if (this.runs++ > 0) this.restartCount++; // each run logs to its own file: `previous` works
    if (this.state.terminated) this.lastState = { terminated: this.state.terminated };
    this.imageID = l.imageID;
    // A host program is opened before the mounts, which may hide its path (coredns mounts its
    // Corefile over /root, where the test-bed binaries are cached), and run from that fd. An
    // image's program (e.g. /usr/local/bin/node, bound by the image) exists only in the new root.
    const q = (a: string) => quoteArgs(a, []);
    // A runtime hands a container pipes (containerd: FIFOs); Node's stdio pipes are socket
    // pairs, on which open("/dev/stdout") fails (ENXIO: nginx's `access_log /dev/stdout`). The
    // pipes are made here, as the container's user: a pipe is only reopened by its owner. The
    // readers stand for the runtime's shim: they ignore the signals a stop sends the container's
    // process group (else the program's last lines hit a closed pipe: EPIPE, exit 1), and end
    // at EOF, when the program is gone.
    const reader = `>(trap '' TERM INT QUIT HUP; exec cat`;
    const pipes = `exec > ${reader}) 2> ${reader} >&2); `;
    const exec = pipes + (l.hostProgram ? 'exec -a "$0" /proc/self/fd/9 "$@"' : 'exec "$0" "$@"');
    const inRoot = [
      `cd ${q(l.workingDir || '/')} || exit ${setupFailed}`,
      ...(l.hostProgram ? [] : [`command -v -- "$0" >/dev/null || { echo "exec: $0: not found" >&2; exit ${setupFailed}; }`]),
      l.setpriv.length ? `exec ${quoteArgs(this.tools.setpriv, l.setpriv)} -- ${q(this.tools.bash)} -c ${q(exec)} "$0" "$@"` : exec,
    ].join('\n');
    const script = [
      ...(l.hostProgram ? [`waygate_program=$(command -v -- "$0") && exec 9<"$waygate_program" || { echo "exec: $0: not found" >&2; exit ${setupFailed}; }`] : []),
      ...l.setup.map((c) => `${c} || exit ${setupFailed}`),
      `echo ${q(l.hostname)} > /proc/sys/kernel/hostname || exit ${setupFailed}`,
      `exec chroot ${q(l.root)} ${q(this.tools.bash)} -c ${q(inRoot)} "$0" "$@"`,
    ].join('\n');
    this.launch = l;
    const file = this.logFile();
    // Each step execs the next: one process, whose parent is the agent. setpriv: it dies with
    // the agent, so a crashed agent leaves no container running. bash, not sh: dash drops
    // environment names that are not shell identifiers (a.b, x-y).
    const wrapper = [l.netns, this.tools.unshare, '--mount', '--uts', '--propagation', 'private', this.tools.setpriv, '--pdeathsig', 'KILL', '--', this.tools.bash, '-c', script];
    const child = spawn(this.tools.ip, ['netns', 'exec', ...wrapper, ...l.argv], {
      env: l.env,
      detached: true, // own process group: a stop signals everything the container started
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    void Promise.all([captureStream(child.stdout!, 'stdout', file), captureStream(child.stderr!, 'stderr', file)]).then(() => this.flushedLogs.add(file));
    this.child = child;
    this.startedMs = Date.now();
    this.state = { running: { startedAt: nowTime() } };
    this.ready = false;
    this.probeStreak = { ok: 0, failed: 0 };
    this.deps.log(`${this.name}: started ${quoteArgs(l.argv[0], l.argv.slice(1))} (pid ${child.pid}, restart ${this.restartCount})`);
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        this.onExit(child, 128, null, err.message);
        resolve();
      });
      child.once('exit', (code, signal) => {
        this.onExit(child, code ?? 0, signal, undefined);
        resolve();
      });
    });
    this.startedProbe = !this.spec.startupProbe;
    this.scheduleProbe(l.podIP, true);
    this.scheduleHealth(l.podIP, true, 0);
    this.deps.onChange();
  }

  private execAs(): ExecContext | undefined {
    return this.child?.pid && this.launch ? { pid: this.child.pid, uid: this.launch.uid, gid: this.launch.gid } : undefined;
  }

  /** Startup probe until it passes, then the liveness probe; after failureThreshold failures
   * in a row the container is killed (SIGTERM, SIGKILL after 2 s) and restarted per policy. */
  private scheduleHealth(podIP: string, first: boolean, failed: number): void {
    const kind = this.startedProbe ? 'liveness' : 'startup';
    const probe = this.startedProbe ? this.spec.livenessProbe : this.spec.startupProbe;
    if (!probe) return;
    const delayMs = first ? (probe.initialDelaySeconds ?? 0) * 1000 : (probe.periodSeconds ?? 10) * 1000;
    this.healthTimer = setTimeout(async () => {
      const child = this.child;
      if (!child) return;
      const r = await runProbe(probe, this.spec, podIP, this.execAs());
      if (this.child !== child || this.stopping) return;
      if (r.ok) {
        if (kind === 'startup') {
          this.startedProbe = true;
          this.deps.onChange();
          return this.scheduleHealth(podIP, true, 0);
        }
        return this.scheduleHealth(podIP, false, 0);
      }
      if (failed + 1 < (probe.failureThreshold ?? 3)) return this.scheduleHealth(podIP, false, failed + 1);
      this.deps.log(`${this.name}: ${kind} probe failed ${failed + 1} times (${r.message}); container will be restarted`);
      this.signalGroup(child, 'SIGTERM');
      setTimeout(() => this.signalGroup(child, 'SIGKILL'), 2000).unref();
    }, delayMs);
  }

  private signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      /* gone */
    }
  }

  private onExit(child: ChildProcess, exitCode: number, signal: NodeJS.Signals | null, error: string | undefined): void {
    if (this.child !== child) return;
    this.child = undefined;
    clearTimeout(this.probeTimer);
    clearTimeout(this.healthTimer);
    const startedAt = this.state.running?.startedAt ?? nowTime();
    const ranMs = Date.now() - this.startedMs;
    const reason = error || exitCode === setupFailed ? 'StartError' : exitCode === 0 ? 'Completed' : 'Error';
    const code = signal ? 128 + (signalNumbers[signal] ?? 0) : exitCode;
    this.state = { terminated: { exitCode: code, reason, startedAt, finishedAt: nowTime(), ...(error ? { message: error } : {}), ...(signal ? { signal: signalNumbers[signal] } : {}) } };
    this.ready = false;
    this.deps.log(`${this.name}: exited with ${signal ?? exitCode} after ${ranMs} ms`);
    if (!this.stopping) {
      // Backoff doubles per crash, and starts over after a run of a minute (kubelet: 10 min).
      this.failures = ranMs > 60_000 ? 0 : this.failures + 1;
      const delay = Math.min(this.deps.backoff.maxMs, this.deps.backoff.initialMs * 2 ** (this.failures - 1));
      this.restartAtMs = Date.now() + delay;
      if (this.needsStart(Number.POSITIVE_INFINITY)) {
        this.restartTimer = setTimeout(() => this.deps.onChange(), delay + 10);
      }
    }
    this.deps.onChange();
  }

  /** In backoff before a restart: what status shows instead of the last termination. */
  get backingOff(): boolean {
    return !this.child && !this.stopping && !!this.state.terminated && this.needsStart(Number.POSITIVE_INFINITY) && Date.now() < this.restartAtMs;
  }

  private scheduleProbe(podIP: string, first: boolean): void {
    const probe = this.spec.readinessProbe;
    if (!probe && this.startedProbe) {
      this.ready = true; // no readiness probe: ready once running (and started)
      return;
    }
    const delayMs = !probe ? 200 : first ? (probe.initialDelaySeconds ?? 0) * 1000 : (probe.periodSeconds ?? 10) * 1000;
    this.probeTimer = setTimeout(async () => {
      if (!this.child) return;
      if (!probe || !this.startedProbe) return this.scheduleProbe(podIP, first); // readiness waits for the startup probe
      const r = await runProbe(probe, this.spec, podIP, this.execAs());
      if (!this.child) return;
      if (r.ok) this.probeStreak = { ok: this.probeStreak.ok + 1, failed: 0 };
      else this.probeStreak = { ok: 0, failed: this.probeStreak.failed + 1 };
      const was = this.ready;
      if (r.ok && this.probeStreak.ok >= (probe.successThreshold ?? 1)) this.ready = true;
      if (!r.ok && this.probeStreak.failed >= (probe.failureThreshold ?? 3)) this.ready = false;
      if (!r.ok && this.probeStreak.failed === 1) this.deps.log(`${this.name}: readiness probe failed: ${r.message}`);
      if (was !== this.ready) this.deps.onChange();
      this.scheduleProbe(podIP, false);
    }, delayMs);
  }

  /** As the kubelet stops a container: the preStop hook (within the grace period), then
   * SIGTERM to its process group, SIGKILL when the grace period is over (at least 2 s after a
   * preStop hook, as the kubelet allows); it is not restarted. */
  async stop(graceMs: number, preStop = true): Promise<void> {
    this.stopping = true;
    clearTimeout(this.probeTimer);
    clearTimeout(this.healthTimer);
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child?.pid) return;
    const began = Date.now();
    const hook = this.spec.lifecycle?.preStop;
    let hookRan = false;
    if (preStop && hook) {
      hookRan = true;
      const r = await runHook(hook, this.spec, this.launch?.podIP ?? '', this.execAs(), graceMs);
      this.deps.log(`${this.name}: preStop hook ${r.ok ? 'done' : `failed: ${r.message}`} after ${Date.now() - began} ms`);
    }
    const signal = (sig: NodeJS.Signals) => this.signalGroup(child, sig);
    signal('SIGTERM');
    const left = graceMs - (Date.now() - began);
    const killer = setTimeout(() => signal('SIGKILL'), hookRan ? Math.max(left, 2000) : Math.max(left, 0));
    await this.exited;
    clearTimeout(killer);
    signal('SIGKILL'); // anything the container left behind in its group
  }

  status(image: string): ContainerStatus {
    let state = this.state;
    if (this.backingOff) {
      const t = this.state.terminated!;
      state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off restarting failed container ${this.name} (exit code ${t.exitCode})` } };
    }
    const lastState = this.backingOff ? { terminated: this.state.terminated! } : this.lastState;
    return {
      name: this.name,
      state,
      lastState,
      ready: this.ready && this.running,
      started: this.running && this.startedProbe,
      restartCount: this.restartCount,
      image,
      imageID: this.imageID,
      ...(this.running || this.state.terminated ? { containerID: `waygate://${this.deps.podUid}/${this.name}/${this.restartCount}` } : {}),
    };
  }
}

const signalNumbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

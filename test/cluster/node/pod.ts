// One pod on this node, from binding to deletion: network, volumes, containers, status.
// Every change (a container exits, a probe flips, a retry is due) comes back to sync(),
// which runs one at a time per pod and ends by writing the status if it changed.
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Binaries } from '../build.ts';
import { isStatus, type Api } from './api.ts';
import { ContainerRunner, type Tools } from './container.ts';
import { ConfigError, containerEnv, expand, podHostname, type PodContext } from './env.ts';
import { containerArgv, resolveImage, unmappedMessage, type ImageRule } from './images.ts';
import { containerMounts, MountError, rootCommands } from './mounts.ts';
import { containerIdentity } from './security.ts';
import type { PodNetwork, PodNetworks } from './network.ts';
import { podStatus, statusFingerprint } from './status.ts';
import { nowTime, podKey, type Pod, type PodStatus } from './types.ts';
import { makeVolumes, type VolumeDir } from './volumes.ts';

export interface PodWorkerDeps {
  api: Api;
  networks: PodNetworks;
  nodeName: string;
  hostIP: string;
  stateDir: string;
  images: ImageRule[];
  binaries: Binaries;
  capacity: Record<string, string>;
  tools: Tools;
  log: (msg: string) => void;
  backoff: { initialMs: number; maxMs: number };
  /** Delay before retrying what could not be done yet (missing Secret, API error). */
  retryMs: number;
  /** Where containers reach the API server (KUBERNETES_SERVICE_HOST/PORT). */
  kubernetesService?: { host: string; port: number };
  /** Host mount points bound into every container's root (mounts.ts topLevelMounts). */
  hostMounts: string[];
}

export class PodWorker {
  readonly uid: string;
  readonly dir: string;
  readonly runners: ContainerRunner[];
  network?: PodNetwork;
  private volumes?: Map<string, VolumeDir>;
  private readonly startTime = nowTime();
  private written?: PodStatus;
  private writtenFp?: string;
  private syncing = false;
  private again = false;
  private retryTimer?: NodeJS.Timeout;
  private stopped = false;
  private blocked?: { reason: string; message: string };

  pod: Pod;
  private readonly deps: PodWorkerDeps;
  constructor(
    pod: Pod,
    deps: PodWorkerDeps,
  ) {
    this.pod = pod;
    this.deps = deps;
    this.uid = pod.metadata.uid!;
    this.dir = join(deps.stateDir, 'pods', this.uid);
    mkdirSync(this.dir, { recursive: true });
    const restartPolicy = pod.spec.restartPolicy ?? 'Always';
    this.runners = pod.spec.containers.map(
      (c) => new ContainerRunner(c, { podUid: this.uid, podDir: this.dir, restartPolicy, onChange: () => this.kick(), log: (m) => this.log(m), backoff: deps.backoff }, deps.tools),
    );
    if (pod.spec.initContainers?.length) this.blocked = { reason: 'InitContainersNotSupported', message: 'the waygate node agent does not run init containers' };
    else if (pod.spec.hostNetwork) this.blocked = { reason: 'HostNetworkNotSupported', message: 'the waygate node agent runs every pod in its own network namespace' };
  }

  private log(msg: string): void {
    this.deps.log(`${podKey(this.pod)}: ${msg}`);
  }

  get podIP(): string | undefined {
    return this.network?.ip;
  }

  update(pod: Pod): void {
    this.pod = pod;
  }

  /** Asks for a sync; coalesces while one runs. */
  kick(): void {
    if (this.stopped) return;
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = true;
    void this.sync()
      .catch((err: unknown) => this.log(`sync failed: ${(err as Error).message}`))
      .finally(() => {
        this.syncing = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private retryLater(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.kick(), this.deps.retryMs);
  }

  private context(): PodContext {
    return { pod: this.pod, podIP: this.network?.ip ?? '', hostIP: this.deps.hostIP, nodeName: this.deps.nodeName, kubernetesService: this.deps.kubernetesService };
  }

  private async sync(): Promise<void> {
    if (this.stopped || this.pod.metadata.deletionTimestamp) return;
    if (!this.blocked) await this.startWhatIsDue();
    if (!this.stopped) await this.writeStatus();
  }

  private async startWhatIsDue(): Promise<void> {
    if (!this.network) {
      try {
        const hash = createHash('sha256').update(this.uid).digest('hex').slice(0, 8);
        this.network = await this.deps.networks.setup(this.uid, hash);
        this.writeEtcHosts();
        this.log(`network ${this.network.netns}, IP ${this.network.ip}`);
      } catch (err) {
        for (const r of this.runners) r.setWaiting('ContainerCreating', `pod network: ${(err as Error).message}`);
        return this.retryLater();
      }
    }
    if (!this.volumes) {
      try {
        this.volumes = await makeVolumes(this.deps.api, this.context(), this.dir, this.deps.capacity);
      } catch (err) {
        for (const r of this.runners) r.setWaiting('ContainerCreating', (err as Error).message);
        return this.retryLater();
      }
    }
    for (const r of this.runners) {
      if (!r.needsStart()) continue;
      const image = r.spec.image ?? '';
      const resolved = resolveImage(image, this.deps.images, this.deps.binaries);
      if (!resolved) {
        r.setWaiting('ImageNotMapped', unmappedMessage(image));
        continue; // permanent: the table does not change while the agent runs
      }
      try {
        const id = containerIdentity(this.pod, r.spec, resolved.user);
        const env = await containerEnv(this.deps.api, this.context(), r.spec, this.deps.capacity, { ...(id.uid !== 0 ? { HOME: '/' } : {}), ...resolved.env });
        const argv = containerArgv(resolved, r.spec.command?.map((a) => expand(a, env)), r.spec.args?.map((a) => expand(a, env)));
        const stage = join(this.dir, 'rootfs', r.name);
        mkdirSync(stage, { recursive: true });
        const mounts = containerMounts(r.spec, this.volumes, join(this.dir, 'etc-hosts'), resolved.binds);
        const setup = rootCommands({ stage, mounts, readOnlyRoot: r.spec.securityContext?.readOnlyRootFilesystem === true, hostMounts: this.deps.hostMounts });
        r.start({
          netns: this.network.netns,
          podIP: this.network.ip,
          hostname: podHostname(this.pod),
          argv,
          env,
          setup,
          root: join(stage, 'root'),
          workingDir: r.spec.workingDir || resolved.workingDir,
          hostProgram: resolved.hostProgram,
          setpriv: id.setpriv,
          uid: id.uid,
          gid: id.gid,
          imageID: resolved.imageID,
        });
      } catch (err) {
        if (err instanceof ConfigError) r.setWaiting('CreateContainerConfigError', err.message);
        else if (err instanceof MountError) r.setWaiting('CreateContainerError', err.message);
        else r.setWaiting('ContainerCreating', (err as Error).message);
        this.retryLater();
      }
    }
  }

  private writeEtcHosts(): void {
    const name = podHostname(this.pod);
    const fqdn = this.pod.spec.subdomain ? `${name}.${this.pod.spec.subdomain}.${this.pod.metadata.namespace}.svc.cluster.local\t` : '';
    writeFileSync(join(this.dir, 'etc-hosts'), `# Kubernetes-managed hosts file (waygate node agent).\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${this.network!.ip}\t${fqdn}${name}\n`);
  }

  private async writeStatus(): Promise<void> {
    const status = podStatus({ pod: this.pod, podIP: this.network?.ip, hostIP: this.deps.hostIP, startTime: this.startTime, runners: this.runners, written: this.written, blocked: this.blocked });
    const fp = statusFingerprint(status);
    if (fp === this.writtenFp) return;
    const { namespace, name } = this.pod.metadata;
    try {
      const updated = await this.deps.api.request<Pod>('PATCH', `/api/v1/namespaces/${namespace}/pods/${name}/status`, { body: { metadata: { uid: this.uid }, status } });
      this.written = status;
      this.writtenFp = fp;
      this.pod = updated;
    } catch (err) {
      if (isStatus(err, 404, 409)) return; // gone, or replaced by a pod of the same name
      this.log(`status update failed: ${(err as Error).message}`);
      if (!this.stopped) this.retryLater();
    }
  }

  /**
   * Stops every container (SIGTERM, SIGKILL after graceMs) and removes network and files.
   * `report`: write the final status (containers terminated, not ready), for a pod that stays
   * in the API while nothing runs it any more (the agent stops).
   */
  async terminate(graceMs: number, report = false): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    // Ready (serving) through the preStop hooks, as with the kubelet, then not ready once the
    // containers have stopped; the EndpointSlice controller shows the endpoint terminating.
    await Promise.all(this.runners.map((r) => r.stop(graceMs, !report)));
    await this.writeStatus();
    await this.deps.networks.teardown(this.uid);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

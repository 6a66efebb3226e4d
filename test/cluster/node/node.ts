// The Node object and its heartbeat: registered as a kubelet registers itself (labels,
// capacity, addresses, the kubelet API endpoint), then kept alive by renewing its Lease in
// kube-node-lease every 10 s and refreshing the Ready condition every minute.
import { cpus, release, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import { versions } from '../paths.ts';
import { isStatus, type Api } from './api.ts';
import { podCidr } from './network.ts';
import { nowTime, type Condition } from './types.ts';

export interface NodeConfig {
  name: string;
  /** InternalIP: where the API server reaches the kubelet API. */
  address: string;
  kubeletPort: number;
}

export function nodeLabels(name: string): Record<string, string> {
  return { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': process.arch === 'x64' ? 'amd64' : process.arch, 'node.kubernetes.io/instance-type': 'waygate-node-agent' };
}

/** Generous, so that no admission or quota check refuses a pod; "pods" is what the kubelet defaults to. */
export function nodeCapacity(): Record<string, string> {
  return { cpu: String(cpus().length), memory: `${Math.floor(totalmem() / 1024)}Ki`, pods: '110', 'ephemeral-storage': '100Gi' };
}

const read = (path: string) => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
};

function conditions(ready: boolean, now: string, since: string): Condition[] {
  const c = (type: string, status: boolean, reason: string, message: string): Condition => ({ type, status: status ? 'True' : 'False', reason, message, lastHeartbeatTime: now, lastTransitionTime: since });
  return [
    c('MemoryPressure', false, 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    c('DiskPressure', false, 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    c('PIDPressure', false, 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    ready
      ? c('Ready', true, 'KubeletReady', 'waygate node agent is posting ready status')
      : { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'waygate node agent stopped posting node status', lastHeartbeatTime: now, lastTransitionTime: now },
  ];
}

export class NodeRegistration {
  private timer?: NodeJS.Timeout;
  private readySince = nowTime();
  private beats = 0;

  private readonly api: Api;
  private readonly cfg: NodeConfig;
  private readonly log: (msg: string) => void;
  constructor(
    api: Api,
    cfg: NodeConfig,
    log: (msg: string) => void,
  ) {
    this.api = api;
    this.cfg = cfg;
    this.log = log;
  }

  private status(ready: boolean) {
    const capacity = nodeCapacity();
    return {
      capacity,
      allocatable: capacity,
      conditions: conditions(ready, nowTime(), this.readySince),
      addresses: [{ type: 'InternalIP', address: this.cfg.address }],
      daemonEndpoints: { kubeletEndpoint: { Port: this.cfg.kubeletPort } },
      nodeInfo: {
        machineID: read('/etc/machine-id'),
        systemUUID: read('/sys/class/dmi/id/product_uuid') || read('/etc/machine-id'),
        bootID: read('/proc/sys/kernel/random/boot_id'),
        kernelVersion: release(),
        osImage: read('/etc/os-release').match(/^PRETTY_NAME="?([^"\n]*)/m)?.[1] ?? 'Linux',
        containerRuntimeVersion: 'waygate-node-agent://0.1.0',
        kubeletVersion: versions.kubernetes,
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: nodeLabels(this.cfg.name)['kubernetes.io/arch'],
      },
    };
  }

  async register(): Promise<void> {
    const { name } = this.cfg;
    const node = { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: nodeLabels(name) }, spec: { podCIDR: podCidr, podCIDRs: [podCidr] } };
    try {
      await this.api.request('POST', '/api/v1/nodes', { body: node });
    } catch (err) {
      if (!isStatus(err, 409)) throw err;
      await this.api.request('PATCH', `/api/v1/nodes/${name}`, { body: { metadata: { labels: nodeLabels(name) } } });
    }
    this.readySince = nowTime();
    await this.postStatus(true);
    await this.renewLease();
    this.timer = setInterval(() => void this.beat(), 10_000);
  }

  private async postStatus(ready: boolean): Promise<void> {
    await this.api.request('PATCH', `/api/v1/nodes/${this.cfg.name}/status`, { body: { status: this.status(ready) } });
  }

  private async renewLease(): Promise<void> {
    const { name } = this.cfg;
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`;
    const renewTime = new Date().toISOString().replace(/Z$/, '000Z'); // MicroTime
    try {
      await this.api.request('PATCH', path, { body: { spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime } } });
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
      const node = await this.api.request<{ metadata: { uid: string } }>('GET', `/api/v1/nodes/${name}`);
      await this.api.request('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace: 'kube-node-lease', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid: node.metadata.uid }] },
          spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime },
        },
      });
    }
  }

  private async beat(): Promise<void> {
    try {
      await this.renewLease();
      if (++this.beats % 6 === 0) await this.postStatus(true);
    } catch (err) {
      this.log(`node heartbeat failed: ${(err as Error).message}`);
    }
  }

  /** Stops the heartbeat and reports the node NotReady (Unknown), as the node controller would. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.postStatus(false).catch(() => undefined);
  }
}

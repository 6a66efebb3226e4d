// The node agent: a kubelet and a scheduler for the test bed, so that Deployments get
// running, Ready pods with real IPs. It registers a Node, binds pending pods to it, runs
// each pod's containers as local processes in a network namespace of their own, reports
// their status, serves their logs to `kubectl logs`, and deletes them as the kubelet does.
//
// Level-triggered: every pod watch event (and a timer) leads to one reconcile of the full
// pod list, so a missed or broken watch only delays, never loses, a change.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ensureBinaries, type Binaries } from '../build.ts';
import { sleep, which } from '../exec.ts';
import { freePort } from '../processes.ts';
import { connect, isStatus } from './api.ts';
import { kubeletServingCert } from './certs.ts';
import type { Tools } from './container.ts';
import { defaultImageRules, loadImageRules, type ImageRule } from './images.ts';
import { startKubeletApi, type KubeletApi } from './logs.ts';
import { topLevelMounts } from './mounts.ts';
import { hostSideAddress, PodNetworks } from './network.ts';
import { nodeCapacity, nodeLabels, NodeRegistration } from './node.ts';
import { PodWorker, type PodWorkerDeps } from './pod.ts';
import { bind, wantsBinding } from './scheduler.ts';
import { podKey, type List, type Pod } from './types.ts';

export interface NodeAgentOptions {
  kubeconfig: string;
  /** The agent's own directory: pod volumes and logs, its certificate, the record of its
   * network namespaces. A start removes whatever an earlier run with this directory left. */
  stateDir: string;
  log?: (msg: string) => void;
  nodeName?: string;
  /** The node's InternalIP, where the kubelet API listens (default 127.0.0.1). */
  address?: string;
  /** Port of the kubelet API (default: a free one). */
  kubeletPort?: number;
  /** CA that signs the kubelet serving certificate and the API server's client certificate
   * (default: ca.crt and ca.key beside the kubeconfig's certificate-authority file). */
  ca?: { cert: string; key: string };
  /** Default: the test bed binaries, built if needed. */
  binaries?: Binaries;
  /** Image rules checked before the defaults (e.g. a test image mapped to /bin/sh). */
  images?: ImageRule[];
  /** JSON files of image rules (one rule, or an array of rules; the format of
   * scripts/image-layout.ts's image.json plus `repository`), checked after `images`. */
  imageFiles?: string[];
  /** Where containers reach the API server (KUBERNETES_SERVICE_HOST/PORT). Default: the
   * host-side pod address 10.244.0.1 and the kubeconfig server's port (kube-apiserver listens
   * on every address), which works with or without kube-proxy; with kube-proxy running,
   * { host: '10.96.0.1', port: 443 } (the `kubernetes` Service) works too. */
  kubernetesService?: { host: string; port: number };
  /** Cap on a deleted pod's grace period (default 3 s): the test bed does not wait 30 s. */
  gracePeriodCapMs?: number;
  /** Container restart backoff (default 1 s doubling to 60 s). */
  backoff?: { initialMs: number; maxMs: number };
}

export interface NodeAgent {
  nodeName: string;
  kubeletPort: number;
  stateDir: string;
  /** Milliseconds per start-up phase. */
  timings: Record<string, number>;
  podIp(namespace: string, name: string): string | undefined;
  /** The pod's network namespace (for `ip netns exec`). */
  podNetns(namespace: string, name: string): string | undefined;
  /** Host pid of a running container's process. */
  containerPid(namespace: string, name: string, container: string): number | undefined;
  stop(): Promise<void>;
}

/** Short id of an agent, from its state dir: names its namespaces and veths. */
export function agentIdOf(stateDir: string): string {
  return createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 4);
}

async function findTools(): Promise<Tools> {
  if (process.getuid?.() !== 0) throw new Error('the node agent needs root: it creates network namespaces, veths and mounts');
  const [ip, unshare, bash, setpriv, ...others] = await Promise.all(['ip', 'unshare', 'bash', 'setpriv', 'nsenter', 'openssl'].map(async (n) => ({ n, path: await which(n) })));
  const missing = [ip, unshare, bash, setpriv, ...others].filter((t) => !t.path).map((t) => t.n);
  if (missing.length) throw new Error(`the node agent needs ${missing.join(', ')} (iproute2, util-linux, bash, openssl)`);
  return { ip: ip.path!, unshare: unshare.path!, bash: bash.path!, setpriv: setpriv.path! };
}

function defaultCa(kubeconfig: string): { cert: string; key: string } {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const cert = kc.getCurrentCluster()?.caFile;
  const key = cert && join(dirname(cert), 'ca.key');
  if (!cert || !key || !existsSync(key)) throw new Error(`cannot find the cluster CA's key beside the kubeconfig's certificate-authority (${cert ?? 'none'}); pass ca: { cert, key }`);
  return { cert, key };
}

/** Removes what an agent with this state dir left: processes, network namespaces, veths, files. */
export async function cleanupNodeAgent(stateDir: string): Promise<string[]> {
  mkdirSync(stateDir, { recursive: true });
  const removed = await new PodNetworks(agentIdOf(stateDir), stateDir).cleanupLeftovers();
  rmSync(join(stateDir, 'pods'), { recursive: true, force: true });
  rmSync(join(stateDir, 'agent.json'), { force: true });
  return removed;
}

export async function startNodeAgent(opts: NodeAgentOptions): Promise<NodeAgent> {
  const log = opts.log ?? ((m: string) => console.error(`node agent: ${m}`));
  const nodeName = opts.nodeName ?? 'waygate-node';
  const address = opts.address ?? '127.0.0.1';
  const stateDir = resolve(opts.stateDir);
  const timings: Record<string, number> = {};
  let t = Date.now();
  const phase = (name: string) => {
    timings[name] = Date.now() - t;
    t = Date.now();
  };

  const tools = await findTools();
  const leftovers = await cleanupNodeAgent(stateDir);
  if (leftovers.length) log(`removed what an earlier run left: ${leftovers.join(', ')}`);
  const networks = new PodNetworks(agentIdOf(stateDir), stateDir);
  await networks.guardForwarding();
  phase('cleanup');
  const binaries = opts.binaries ?? (await ensureBinaries(log));
  phase('binaries');

  const api = await connect(opts.kubeconfig);
  const ca = opts.ca ?? defaultCa(opts.kubeconfig);
  const serving = await kubeletServingCert(join(stateDir, 'pki'), ca, nodeName, [address]);
  const workers = new Map<string, PodWorker>(); // by pod uid
  const terminating = new Set<string>();
  const byName = (ns: string, name: string) => [...workers.values()].find((w) => w.pod.metadata.namespace === ns && w.pod.metadata.name === name && !terminating.has(w.uid));
  let kubelet: KubeletApi | undefined;
  kubelet = await startKubeletApi({
    host: address,
    port: opts.kubeletPort ?? (await freePort(address)),
    cert: serving.cert,
    key: serving.key,
    ca: ca.cert,
    lookup: (ns, name, container) => {
      const w = byName(ns, name);
      return w && { runner: w.runners.find((r) => r.name === container) };
    },
    log,
  });
  phase('kubelet-api');

  const node = new NodeRegistration(api, { name: nodeName, address, kubeletPort: kubelet.port }, log);
  try {
    await node.register();
  } catch (err) {
    await kubelet.close();
    api.close();
    throw err;
  }
  phase('register-node');
  writeFileSync(join(stateDir, 'agent.json'), JSON.stringify({ pid: process.pid, nodeName, kubeletPort: kubelet.port }, null, 2));

  const labels = nodeLabels(nodeName);
  const deps: PodWorkerDeps = {
    api,
    networks,
    nodeName,
    hostIP: address,
    stateDir,
    images: [...(opts.images ?? []), ...(opts.imageFiles ?? []).flatMap(loadImageRules), ...defaultImageRules],
    kubernetesService: opts.kubernetesService ?? { host: hostSideAddress, port: Number(new URL(api.server).port || 443) },
    binaries,
    capacity: nodeCapacity(),
    tools,
    log,
    backoff: opts.backoff ?? { initialMs: 1000, maxMs: 60_000 },
    retryMs: 2000,
    hostMounts: topLevelMounts([stateDir, '/run/netns']),
  };
  const graceCapMs = opts.gracePeriodCapMs ?? 3000;

  /** Kubelet's deletion: stop, clean up, then remove the object for good (grace 0). */
  const finish = (pod: Pod, w: PodWorker | undefined) => {
    const uid = pod.metadata.uid!;
    terminating.add(uid);
    const graceMs = Math.min((pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30) * 1000, graceCapMs);
    void (async () => {
      try {
        await w?.terminate(graceMs);
        await api.request('DELETE', `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`, {
          body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid } },
        });
        log(`${podKey(pod)}: deleted`);
      } catch (err) {
        if (!isStatus(err, 404, 409)) log(`${podKey(pod)}: deletion failed: ${(err as Error).message}`);
      } finally {
        workers.delete(uid);
        terminating.delete(uid);
      }
    })();
  };

  let resourceVersion: string | undefined;
  const reconcile = async () => {
    const list = await api.request<List<Pod>>('GET', '/api/v1/pods');
    resourceVersion = list.metadata.resourceVersion;
    const seen = new Set<string>();
    const bindings: Promise<unknown>[] = [];
    for (const pod of list.items) {
      if (wantsBinding(pod)) {
        bindings.push(bind(api, pod, nodeName, labels).catch((err: Error) => log(`${podKey(pod)}: binding failed: ${err.message}`)));
        continue;
      }
      if (pod.spec.nodeName !== nodeName) continue;
      const uid = pod.metadata.uid!;
      seen.add(uid);
      if (terminating.has(uid)) continue;
      const w = workers.get(uid);
      if (pod.metadata.deletionTimestamp) {
        finish(pod, w);
        continue;
      }
      if (!w && ['Succeeded', 'Failed'].includes(pod.status?.phase ?? '')) continue; // finished before this run
      if (w) w.update(pod);
      else {
        workers.set(uid, new PodWorker(pod, deps));
        log(`${podKey(pod)}: starting`);
      }
      workers.get(uid)!.kick();
    }
    // Gone from the API without passing through deletion here (force-deleted): clean up.
    for (const [uid, w] of workers) if (!seen.has(uid) && !terminating.has(uid)) finish(w.pod, w);
    await Promise.all(bindings);
    if (bindings.length) trigger(); // bound pods are ours now: start them without waiting
  };

  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;
  const trigger = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = reconcile()
      .catch((err: Error) => log(`reconcile failed: ${err.message}`))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          trigger();
        }
      });
  };
  const abort = new AbortController();
  const watchLoop = async () => {
    while (!stopped) {
      const began = Date.now();
      try {
        await api.watch('/api/v1/pods', { ...(resourceVersion ? { resourceVersion } : {}), timeoutSeconds: '300' }, (type) => {
          if (type === 'ERROR') resourceVersion = undefined; // e.g. 410 Gone: relist
          trigger();
        }, abort.signal);
      } catch (err) {
        if (!stopped) log(`pod watch failed: ${(err as Error).message}`);
      }
      if (Date.now() - began < 1000) await sleep(1000);
    }
  };
  trigger();
  await running;
  void watchLoop();
  const resync = setInterval(trigger, 5000);
  phase('first-sync');

  return {
    nodeName,
    kubeletPort: kubelet.port,
    stateDir,
    timings,
    podIp: (ns, name) => byName(ns, name)?.podIP,
    podNetns: (ns, name) => byName(ns, name)?.network?.netns,
    containerPid: (ns, name, container) => byName(ns, name)?.runners.find((r) => r.name === container && r.running)?.pid,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(resync);
      abort.abort();
      await running;
      await Promise.all([...workers.values()].filter((w) => !terminating.has(w.uid)).map((w) => w.terminate(graceCapMs, true)));
      while (terminating.size) await sleep(50);
      await node.stop();
      await kubelet?.close();
      kubelet = undefined;
      api.close();
      const left = await cleanupNodeAgent(stateDir);
      if (left.length) log(`stop: removed ${left.join(', ')}`);
    },
  };
}

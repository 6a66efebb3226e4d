// The test bed: etcd + kube-apiserver + kube-controller-manager (+ kube-proxy on request)
// built from upstream Go modules, with RBAC, persona identities and the Gateway API CRDs
// installed. etcd and the controller manager listen on loopback; the API server on every
// address, so that the node agent's pods reach it.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { basename, join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { ensureBinaries, goModuleSource, type Binaries } from './build.ts';
import { run, tryRun, waitFor, which, type RunOptions, type RunResult } from './exec.ts';
import { hostSideAddress, podCidr, serviceCidr } from './node/network.ts';
import { clusterSrcDir, stateDir as defaultStateDir, versions } from './paths.ts';
import { newPersonas, writeTokenFile, type Persona } from './personas.ts';
import { generatePki, type Pki } from './pki.ts';
import { assertPortsFree, assertRunning, isAlive, startProcess, stopRecorded, type ManagedProcess } from './processes.ts';

export interface ClusterPorts {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  kubeProxyHealthz: number;
  kubeProxyMetrics: number;
}

export function defaultPorts(base = Number(process.env.WAYGATE_TESTBED_PORT_BASE ?? 26000)): ClusterPorts {
  return { etcdClient: base + 379, etcdPeer: base + 380, apiserver: base + 443, controllerManager: base + 257, kubeProxyHealthz: base + 256, kubeProxyMetrics: base + 249 };
}

export interface KubectlOptions extends RunOptions {
  /** Run as this persona (its token), instead of the admin. */
  as?: string;
}

export interface Cluster {
  server: string;
  kubeconfig: string;
  stateDir: string;
  binaries: Binaries;
  pki: Pki;
  personas: Persona[];
  processes: ManagedProcess[];
  /** Figures of the start: milliseconds per phase. */
  timings: Record<string, number>;
  /** Runs the pinned kubectl against the cluster; throws (command + output) on failure. */
  kubectl(args: string[], opts?: KubectlOptions): Promise<string>;
  /** Like kubectl(), but returns exit code and output instead of throwing. */
  tryKubectl(args: string[], opts?: KubectlOptions): Promise<RunResult>;
  /** Starts kube-proxy now unless it runs (StartOptions.kubeProxy: machine-global nft table);
   * `nodeName`: the node agent's node (default waygate-node). Stopped with the test bed. */
  ensureKubeProxy(nodeName?: string): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  stateDir?: string;
  ports?: ClusterPorts;
  log?: (msg: string) => void;
  /**
   * Run kube-proxy (nftables mode) so that Service ClusterIPs answer, from the host and from
   * the node agent's pods. Off by default: kube-proxy's nft tables ("ip kube-proxy",
   * "ip6 kube-proxy") are machine-global, so only one test bed on a machine can run it (a
   * second start with it on fails, naming the first). Needs the nft CLI (installed with
   * apt-get when missing). The node agent must run with the node name given here.
   */
  kubeProxy?: boolean | { nodeName?: string };
}

/** What the test bed needs of kube-controller-manager: Services to EndpointSlices, namespace
 * deletion, owner-based garbage collection, Deployments, and service-account tokens. */
const controllers = [
  'serviceaccount-token-controller',
  'serviceaccount-controller',
  'root-ca-certificate-publisher-controller',
  'clusterrole-aggregation-controller',
  'endpointslice-controller',
  'endpointslice-mirroring-controller',
  'namespace-controller',
  'garbage-collector-controller',
  'pod-garbage-collector-controller',
  'deployment-controller',
  'replicaset-controller',
];

/** kube-proxy's tables: fixed names, shared by the whole machine. */
const kubeProxyTables = [['ip', 'kube-proxy'], ['ip6', 'kube-proxy']];
const kubeProxyMarker = (dir: string) => join(dir, 'kube-proxy.on');

/** Pids of kube-proxy processes of other test beds (or anything else) on this machine. */
function otherKubeProxies(dir: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (basename(cmd[0] ?? '') === 'kube-proxy' && !cmd.some((a) => a.includes(dir))) pids.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** Removes kube-proxy's nft tables if this test bed ran it and no other kube-proxy runs. */
async function cleanupKubeProxy(dir: string): Promise<void> {
  if (!existsSync(kubeProxyMarker(dir))) return;
  if (!otherKubeProxies(dir).length) for (const [family, table] of kubeProxyTables) await tryRun('nft', ['delete', 'table', family, table]);
  rmSync(kubeProxyMarker(dir), { force: true });
}

/** Installs Debian packages whose command is missing (nft for kube-proxy). */
async function ensureCommand(cmd: string, pkg: string, log: (m: string) => void): Promise<void> {
  if (await which(cmd)) return;
  log(`test bed: installing ${pkg} (apt-get) for ${cmd}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update'], { env, timeoutMs: 5 * 60_000 });
  await run('apt-get', ['install', '-y', '--no-install-recommends', pkg], { env, timeoutMs: 10 * 60_000 });
  if (!(await which(cmd))) throw new Error(`installed ${pkg} but ${cmd} is still missing`);
}

/** GET over TLS with the admin client certificate; resolves with status and body. */
function httpsGet(url: string, pki: Pki, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: readFileSync(pki.caCert), cert: readFileSync(pki.adminCert), key: readFileSync(pki.adminKey), timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function writeKubeconfig(path: string, server: string, pki: Pki, personas: Persona[]): void {
  const cluster = { name: 'waygate-testbed', cluster: { server, 'certificate-authority': pki.caCert } };
  const users = [
    { name: 'admin', user: { 'client-certificate': pki.adminCert, 'client-key': pki.adminKey } },
    ...personas.map((p) => ({ name: p.name, user: { token: p.token } })),
  ];
  const contexts = [
    { name: 'admin', context: { cluster: 'waygate-testbed', user: 'admin', namespace: 'default' } },
    ...personas.map((p) => ({ name: p.name, context: { cluster: 'waygate-testbed', user: p.name, namespace: p.namespace } })),
  ];
  const config = { apiVersion: 'v1', kind: 'Config', clusters: [cluster], users, contexts, 'current-context': 'admin' };
  writeFileSync(path, stringify(config), { mode: 0o600 });
}

function clientKubeconfig(path: string, server: string, pki: Pki, cert: string, key: string): void {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server, 'certificate-authority': pki.caCert } }],
    users: [{ name: 'u', user: { 'client-certificate': cert, 'client-key': key } }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'c',
  };
  writeFileSync(path, stringify(config), { mode: 0o600 });
}

/** Names of the CustomResourceDefinitions in a directory of manifests. */
function crdNames(dir: string): string[] {
  const names: string[] = [];
  for (const f of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
      const obj = doc.toJS() as { kind?: string; metadata?: { name?: string } } | null;
      if (obj?.kind === 'CustomResourceDefinition' && obj.metadata?.name) names.push(obj.metadata.name);
    }
  }
  return names.sort();
}

/** The pinned Gateway API release's CRD directory for a channel, from its Go module. */
export async function gatewayApiCrdDir(channel = versions.gatewayApiChannel): Promise<string> {
  const src = await goModuleSource('sigs.k8s.io/gateway-api', versions.gatewayApi);
  const dir = join(src, 'config', 'crd', channel);
  if (!existsSync(dir)) throw new Error(`sigs.k8s.io/gateway-api@${versions.gatewayApi} has no ${dir}`);
  return dir;
}

export async function stopCluster(dir = defaultStateDir): Promise<string[]> {
  const stopped = await stopRecorded(dir);
  await cleanupKubeProxy(dir);
  return stopped;
}

export async function startCluster(opts: StartOptions = {}): Promise<Cluster> {
  const dir = opts.stateDir ?? defaultStateDir;
  const ports = opts.ports ?? defaultPorts();
  const log = opts.log ?? ((m: string) => console.error(m));
  const timings: Record<string, number> = {};
  let t = Date.now();
  const phase = (name: string) => {
    timings[name] = Date.now() - t;
    t = Date.now();
  };

  const leftovers = await stopCluster(dir);
  if (leftovers.length) log(`test bed: stopped processes left by an earlier run: ${leftovers.join(', ')}`);
  if (opts.kubeProxy && otherKubeProxies(dir).length) throw new Error(`another kube-proxy runs on this machine (pid ${otherKubeProxies(dir).join(', ')}): its nft table "kube-proxy" is machine-global; start without kubeProxy or stop the other`);
  const binaries = await ensureBinaries(log);
  phase('build');
  await assertPortsFree({ 'etcd client': ports.etcdClient, 'etcd peer': ports.etcdPeer, 'kube-apiserver': ports.apiserver, 'kube-controller-manager': ports.controllerManager });

  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  // 10.244.0.1: where pods reach the API server (node/network.ts hostSideAddress); 10.96.0.1:
  // the `kubernetes` Service, through kube-proxy.
  const pki = await generatePki(join(dir, 'pki'), ['127.0.0.1', hostSideAddress, '10.96.0.1']);
  const personas = newPersonas();
  writeTokenFile(join(dir, 'tokens.csv'), personas);
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const kubeconfig = join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, server, pki, personas);
  phase('pki');

  const processes: ManagedProcess[] = [];

  let kubeProxy: ManagedProcess | undefined;
  /** Starts kube-proxy for this test bed, unless it runs already (see StartOptions.kubeProxy). */
  const ensureKubeProxy = async (nodeName = 'waygate-node'): Promise<void> => {
    if (kubeProxy && isAlive(kubeProxy.pid)) return;
    const others = otherKubeProxies(dir);
    if (others.length) throw new Error(`another kube-proxy runs on this machine (pid ${others.join(', ')}, e.g. another test bed's): its nft table "kube-proxy" is machine-global, so this test bed cannot run one too; start without kubeProxy or stop the other`);
    await ensureCommand('nft', 'nftables', log);
    // kube-proxy waits up to 30 s for its Node, and exits when the Node's addresses change
    // later: register it first, with the address the node agent reports (127.0.0.1); the agent
    // adopts an existing Node.
    if ((await cluster.tryKubectl(['get', 'node', nodeName])).code !== 0) {
      await cluster.kubectl(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName } }) });
    }
    await cluster.kubectl(['patch', 'node', nodeName, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }] } })]);
    const kpKubeconfig = join(dir, 'kube-proxy.kubeconfig');
    clientKubeconfig(kpKubeconfig, server, pki, pki.kubeProxyCert, pki.kubeProxyKey);
    writeFileSync(kubeProxyMarker(dir), `${nodeName}\n`);
    const kp = startProcess(dir, 'kube-proxy', binaries['kube-proxy'], [
      `--kubeconfig=${kpKubeconfig}`,
      '--proxy-mode=nftables',
      `--hostname-override=${nodeName}`,
      `--cluster-cidr=${podCidr}`,
      '--detect-local-mode=ClusterCIDR', // traffic from elsewhere (the host) is masqueraded
      `--healthz-bind-address=127.0.0.1:${ports.kubeProxyHealthz}`,
      `--metrics-bind-address=127.0.0.1:${ports.kubeProxyMetrics}`,
      // Leave the machine's conntrack settings as they are.
      '--conntrack-max-per-core=0',
      '--conntrack-tcp-timeout-established=0',
      '--conntrack-tcp-timeout-close-wait=0',
      '--profiling=false',
    ]);
    kubeProxy = kp;
    processes.push(kp);
    await waitFor('kube-proxy to program its nft table', async () => {
      assertRunning(kp);
      const res = await fetch(`http://127.0.0.1:${ports.kubeProxyHealthz}/livez`, { signal: AbortSignal.timeout(1000) });
      if (res.status !== 200) return undefined;
      return (await tryRun('nft', ['list', 'map', 'ip', 'kube-proxy', 'service-ips'])).code === 0 ? true : undefined;
    }, 60_000, 200);
  };
  const kubectlArgs = (args: string[], o: KubectlOptions) => ['--kubeconfig', kubeconfig, '--context', o.as ?? 'admin', ...args];
  const cluster: Cluster = {
    server,
    kubeconfig,
    stateDir: dir,
    binaries,
    pki,
    personas,
    processes,
    timings,
    kubectl: (args, o = {}) => run(binaries.kubectl, kubectlArgs(args, o), o),
    tryKubectl: (args, o = {}) => tryRun(binaries.kubectl, kubectlArgs(args, o), o),
    ensureKubeProxy,
    stop: async () => {
      await stopCluster(dir);
    },
  };

  try {
    const etcdUrl = `http://127.0.0.1:${ports.etcdClient}`;
    const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;
    const etcd = startProcess(dir, 'etcd', binaries.etcd, [
      '--name=testbed',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=testbed=${peerUrl}`,
      '--unsafe-no-fsync', // a throwaway cluster: durability buys nothing, fsync costs seconds
      '--log-level=warn',
    ]);
    processes.push(etcd);
    await waitFor('etcd /health', async () => {
      assertRunning(etcd);
      const res = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(1000) });
      return (await res.text()).includes('"health":"true"') ? true : undefined;
    }, 30_000);
    phase('etcd');

    const apiserver = startProcess(dir, 'kube-apiserver', binaries['kube-apiserver'], [
      `--etcd-servers=${etcdUrl}`,
      // Every address, so that pods reach it at the host side of their veth (10.244.0.1, which
      // exists only while a pod does); anonymous requests are refused, as everywhere here.
      '--bind-address=0.0.0.0',
      // The `kubernetes` Service's endpoint (the lease reconciler keeps it): pods reach it
      // through kube-proxy at 10.96.0.1:443. 127.0.0.1 would be refused in an Endpoints.
      `--advertise-address=${hostSideAddress}`,
      `--secure-port=${ports.apiserver}`,
      `--cert-dir=${join(dir, 'apiserver')}`,
      `--tls-cert-file=${pki.serverCert}`,
      `--tls-private-key-file=${pki.serverKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--anonymous-auth=false',
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      `--service-cluster-ip-range=${serviceCidr}`,
      '--allow-privileged=true',
      '--profiling=false',
      // `kubectl logs` through the node agent's kubelet API (node/logs.ts): verify its serving
      // certificate, and authenticate to it with a client certificate of the test bed CA.
      `--kubelet-certificate-authority=${pki.caCert}`,
      `--kubelet-client-certificate=${pki.adminCert}`,
      `--kubelet-client-key=${pki.adminKey}`,
    ]);
    processes.push(apiserver);
    await waitFor('kube-apiserver /readyz', async () => {
      assertRunning(apiserver);
      const res = await httpsGet(`${server}/readyz`, pki);
      return res.status === 200 ? true : undefined;
    }, 90_000, 200);
    phase('kube-apiserver');

    const kcmKubeconfig = join(dir, 'controller-manager.kubeconfig');
    clientKubeconfig(kcmKubeconfig, server, pki, pki.controllerManagerCert, pki.controllerManagerKey);
    const kcm = startProcess(dir, 'kube-controller-manager', binaries['kube-controller-manager'], [
      `--kubeconfig=${kcmKubeconfig}`,
      `--authentication-kubeconfig=${kcmKubeconfig}`,
      `--authorization-kubeconfig=${kcmKubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${ports.controllerManager}`,
      `--cert-dir=${join(dir, 'controller-manager')}`,
      '--leader-elect=false',
      `--controllers=${controllers.join(',')}`,
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--root-ca-file=${pki.caCert}`,
      `--cluster-name=waygate-testbed`,
      '--profiling=false',
    ]);
    processes.push(kcm);
    // Ready when a controller has acted: the serviceaccount controller makes "default".
    await waitFor('kube-controller-manager to create the default ServiceAccount', async () => {
      assertRunning(kcm);
      const res = await httpsGet(`${server}/api/v1/namespaces/default/serviceaccounts/default`, pki);
      return res.status === 200 ? true : undefined;
    }, 60_000, 200);
    phase('kube-controller-manager');

    if (opts.kubeProxy) {
      await cluster.ensureKubeProxy((typeof opts.kubeProxy === 'object' && opts.kubeProxy.nodeName) || undefined);
      phase('kube-proxy');
    }

    await cluster.kubectl(['apply', '-k', join(clusterSrcDir, 'personas')]);
    phase('personas');

    const crdDir = await gatewayApiCrdDir();
    await cluster.kubectl(['apply', '--server-side', '-k', crdDir]);
    await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...crdNames(crdDir).map((n) => `crd/${n}`)]);
    phase('gateway-api-crds');

    writeFileSync(join(dir, 'state.json'), JSON.stringify({ server, kubeconfig, kubectl: binaries.kubectl, personas: personas.map((p) => ({ ...p, token: undefined })) }, null, 2));
    return cluster;
  } catch (err) {
    await stopRecorded(dir);
    throw err;
  }
}

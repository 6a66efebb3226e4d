// The test bed: etcd + kube-apiserver + kube-controller-manager built from upstream Go
// modules, on loopback, with RBAC, persona identities and the Gateway API CRDs installed.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { ensureBinaries, goModuleSource, type Binaries } from './build.ts';
import { run, tryRun, waitFor, type RunOptions, type RunResult } from './exec.ts';
import { clusterSrcDir, stateDir as defaultStateDir, versions } from './paths.ts';
import { newPersonas, writeTokenFile, type Persona } from './personas.ts';
import { generatePki, type Pki } from './pki.ts';
import { assertPortsFree, assertRunning, startProcess, stopRecorded, type ManagedProcess } from './processes.ts';

export interface ClusterPorts {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
}

export function defaultPorts(base = Number(process.env.WAYGATE_TESTBED_PORT_BASE ?? 26000)): ClusterPorts {
  return { etcdClient: base + 379, etcdPeer: base + 380, apiserver: base + 443, controllerManager: base + 257 };
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
  stop(): Promise<void>;
}

export interface StartOptions {
  stateDir?: string;
  ports?: ClusterPorts;
  log?: (msg: string) => void;
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

/** Service ClusterIPs are only ever allocated, never dialled: nothing here runs kube-proxy. */
const serviceClusterIpRange = '10.96.0.0/16';

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

function controllerManagerKubeconfig(path: string, server: string, pki: Pki): void {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server, 'certificate-authority': pki.caCert } }],
    users: [{ name: 'u', user: { 'client-certificate': pki.controllerManagerCert, 'client-key': pki.controllerManagerKey } }],
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
  return stopRecorded(dir);
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

  const leftovers = await stopRecorded(dir);
  if (leftovers.length) log(`test bed: stopped processes left by an earlier run: ${leftovers.join(', ')}`);
  const binaries = await ensureBinaries(log);
  phase('build');
  await assertPortsFree({ 'etcd client': ports.etcdClient, 'etcd peer': ports.etcdPeer, 'kube-apiserver': ports.apiserver, 'kube-controller-manager': ports.controllerManager });

  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const pki = await generatePki(join(dir, 'pki'), ['127.0.0.1', '10.96.0.1']);
  const personas = newPersonas();
  writeTokenFile(join(dir, 'tokens.csv'), personas);
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const kubeconfig = join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, server, pki, personas);
  phase('pki');

  const processes: ManagedProcess[] = [];
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
    stop: async () => {
      await stopRecorded(dir);
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
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
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
      `--service-cluster-ip-range=${serviceClusterIpRange}`,
      // The "kubernetes" Service would point at 127.0.0.1, which Endpoints reject.
      '--endpoint-reconciler-type=none',
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
    controllerManagerKubeconfig(kcmKubeconfig, server, pki);
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

    await cluster.kubectl(['apply', '-f', join(clusterSrcDir, 'personas.yaml')]);
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

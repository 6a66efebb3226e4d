// The test bed's node agent (test/cluster/node): pods of the real API server run as local
// processes with their own network namespaces, report status like a kubelet, serve logs to
// `kubectl logs`, and leave nothing behind. Real processes, namespaces and veths: needs root.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { parseAllDocuments, stringify } from 'yaml';
import { goModuleSource } from '../cluster/build.ts';
import { run, tryRun, waitFor } from '../cluster/exec.ts';
import { clusterSrcDir, goModuleDir, repoRoot, versions } from '../cluster/paths.ts';
import { isAlive } from '../cluster/processes.ts';
import { agentIdOf, cleanupNodeAgent, startNodeAgent, type NodeAgent } from '../cluster/node/agent.ts';
import type { Pod } from '../cluster/node/types.ts';
import { testbed } from '../testbed.ts';

/** The echo server image exactly as the conformance base manifests name it. */
const echoImage = 'registry.k8s.io/gateway-api/echo-basic:v1.5.1';
const ns = 'node-agent-e2e';
const ns2 = 'node-agent-e2e-doomed';
const conformanceNamespaces = ['gateway-conformance-infra', 'gateway-conformance-app-backend', 'gateway-conformance-web-backend'];

const podNet = /^10\.244\.\d+\.\d+$/;

function get(url: string, tls = false): Promise<{ status: number; body: string; peerCN?: string }> {
  return new Promise((resolve, reject) => {
    const req = (tls ? httpsRequest : httpRequest)(url, { timeout: 3000, rejectUnauthorized: false }, (res) => {
      let body = '';
      const peerCN = tls ? (res.socket as TLSSocket).getPeerCertificate()?.subject?.CN : undefined;
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, peerCN: typeof peerCN === 'string' ? peerCN : undefined }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function deployment(name: string, namespace: string, replicas: number, container: Record<string, unknown>, volumes: unknown[] = []) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { terminationGracePeriodSeconds: 2, containers: [{ name, ...container }], volumes } },
    },
  };
}

const podEnv = [
  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  { name: 'NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
];

describe('node agent: pods as local processes', function () {
  this.timeout(120_000);
  let agent: NodeAgent;
  let agentId: string;
  let agentLog = '';
  const pids = new Set<number>();
  const tmp = mkdtempSync(join(tmpdir(), 'node-agent-e2e-'));
  const timings: Record<string, number> = {};

  const kubectl = (args: string[], input?: string) => testbed().kubectl(args, { input });
  const apply = (objs: unknown[]) => kubectl(['apply', '-f', '-'], objs.map((o) => stringify(o)).join('---\n'));
  const pods = async (namespace: string, selector?: string): Promise<Pod[]> =>
    (JSON.parse(await kubectl(['get', 'pods', '-n', namespace, '-o', 'json', ...(selector ? ['-l', selector] : [])])) as { items: Pod[] }).items;
  const ready = (p: Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const remember = (p: Pod) => {
    for (const c of p.spec.containers) {
      const pid = agent.containerPid(p.metadata.namespace!, p.metadata.name, c.name);
      if (pid) pids.add(pid);
    }
  };
  const waitReady = async (namespace: string, selector: string, count: number, timeoutMs = 60_000) =>
    waitFor(`${count} ready pods ${selector} in ${namespace}`, async () => {
      const ps = (await pods(namespace, selector)).filter((p) => !p.metadata.deletionTimestamp);
      if (ps.length !== count || !ps.every(ready)) return undefined;
      ps.forEach(remember);
      return ps;
    }, timeoutMs, 200);
  const netnsOurs = async () => (await run('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(`waygate-${agentId}-`));
  const vethsOurs = async () => [...(await run('ip', ['-o', 'link', 'show'])).matchAll(/^\d+: (wgp[^:@\s]+)/gm)].map((m) => m[1]).filter((n) => n.startsWith(`wgp${agentId}`));

  before(async function () {
    this.timeout(30 * 60_000); // a first run builds the binaries
    // Where `npx tsx test/cluster/node/cli.ts cleanup` looks, should this run be interrupted.
    const stateDir = join(testbed().stateDir, 'node');
    agentLog = join(testbed().stateDir, 'logs', 'node-agent.log');
    agentId = agentIdOf(stateDir);
    // An image as scripts/image-layout.ts describes one (image.json plus its repository): the
    // repository at /app, Node 24 at /usr/local/bin/node.
    const nodeImage = join(tmp, 'node-app.json');
    writeFileSync(nodeImage, JSON.stringify({ repository: 'ghcr.io/example/node-app', entrypoint: ['/usr/local/bin/node'], cmd: [], workingDir: '/app', env: { NODE_ENV: 'production' }, binds: [{ source: repoRoot, target: '/app' }, { source: process.execPath, target: '/usr/local/bin/node' }] }));
    const started = Date.now();
    agent = await startNodeAgent({
      kubeconfig: testbed().kubeconfig,
      stateDir,
      log: (m) => appendFileSync(agentLog, `${new Date().toISOString()} ${m}\n`),
      // Test-only image: a shell, to look at env, files and output from inside a pod.
      images: [{ repository: 'waygate.test/sh', entrypoint: '/bin/sh' }],
      imageFiles: [nodeImage],
    });
    timings.agentStartMs = Date.now() - started;
    await kubectl(['create', 'namespace', ns]);
    await waitFor('the default ServiceAccount', async () => ((await testbed().tryKubectl(['get', 'serviceaccount', 'default', '-n', ns])).code === 0 ? true : undefined), 30_000, 200);
  });

  after(async function () {
    this.timeout(60_000);
    await agent?.stop();
    await cleanupNodeAgent(join(testbed().stateDir, 'node')); // should a test have left anything
    // No kubelet is left to confirm deletions: remove the pods at once, then the namespaces.
    for (const n of [ns, ns2, ...conformanceNamespaces]) {
      await testbed().tryKubectl(['delete', 'pods', '--all', '-n', n, '--force', '--grace-period=0', '--wait=false']);
      await testbed().tryKubectl(['delete', 'namespace', n, '--ignore-not-found', '--wait=false']);
    }
    await testbed().tryKubectl(['delete', 'node', agent?.nodeName ?? 'waygate-node', '--ignore-not-found']);
    rmSync(tmp, { recursive: true, force: true });
    console.error(`      node agent timings: ${Object.entries({ ...timings, ...Object.fromEntries(Object.entries(agent?.timings ?? {}).map(([k, v]) => [`start.${k}`, v])) }).map(([k, v]) => `${k} ${v} ms`).join(', ')}`);
    console.error(`      node agent log: ${agentLog}`);
  });

  it('go.mod requires the conformance images and CoreDNS releases of versions.json', () => {
    const goMod = readFileSync(join(goModuleDir, 'go.mod'), 'utf8');
    const v = versions as typeof versions & { gatewayApiConformanceImages: string; coredns: string };
    // echo-basic comes from sigs.k8s.io/gateway-api-conformance-images since v1.7.0, pinned by a replace.
    expect(goMod).to.match(new RegExp(`^replace sigs\\.k8s\\.io/gateway-api-conformance-images => sigs\\.k8s\\.io/gateway-api-conformance-images ${v.gatewayApiConformanceImages}$`, 'm'));
    expect(goMod).to.match(new RegExp(`^\\s*github\\.com/coredns/coredns ${v.coredns}$`, 'm'));
    expect(goMod).to.match(new RegExp(`^replace sigs\\.k8s\\.io/gateway-api => sigs\\.k8s\\.io/gateway-api ${versions.gatewayApi}$`, 'm'));
  });

  it('registers a Ready node whose kubelet endpoint is the agent', async () => {
    const node = JSON.parse(await kubectl(['get', 'node', agent.nodeName, '-o', 'json'])) as {
      status: { conditions: { type: string; status: string }[]; addresses: { type: string; address: string }[]; daemonEndpoints: { kubeletEndpoint: { Port: number } }; allocatable: Record<string, string> };
    };
    expect(node.status.conditions.find((c) => c.type === 'Ready')?.status).to.equal('True');
    expect(node.status.addresses).to.deep.equal([{ type: 'InternalIP', address: '127.0.0.1' }]);
    expect(node.status.daemonEndpoints.kubeletEndpoint.Port).to.equal(agent.kubeletPort);
    expect(Number(node.status.allocatable.pods)).to.be.greaterThan(50);
    const lease = JSON.parse(await kubectl(['get', 'lease', '-n', 'kube-node-lease', agent.nodeName, '-o', 'json'])) as { spec: { holderIdentity: string; renewTime: string } };
    expect(lease.spec.holderIdentity).to.equal(agent.nodeName);
    expect(Date.now() - new Date(lease.spec.renewTime).getTime()).to.be.lessThan(30_000);
  });

  it('runs a Deployment of the conformance echo server: Available, pod IPs, echoes its pod name and namespace', async () => {
    const started = Date.now();
    await apply([deployment('echo', ns, 2, { image: echoImage, env: podEnv })]);
    await kubectl(['wait', '-n', ns, '--for=condition=Available', 'deployment/echo', '--timeout=60s']);
    timings.deploymentAvailableMs = Date.now() - started;
    const ps = await waitReady(ns, 'app=echo', 2);
    for (const p of ps) {
      expect(p.spec.nodeName).to.equal(agent.nodeName);
      expect(p.status?.phase).to.equal('Running');
      expect(p.status?.podIP).to.match(podNet).and.equal(agent.podIp(ns, p.metadata.name));
      expect(p.status?.podIPs).to.deep.equal([{ ip: p.status?.podIP }]);
      expect(p.status?.hostIP).to.equal('127.0.0.1');
      expect(p.status?.startTime).to.be.a('string');
      const cs = p.status!.containerStatuses![0];
      expect(cs).to.include({ ready: true, started: true, restartCount: 0, image: echoImage });
      expect(cs.state.running?.startedAt).to.be.a('string');
      expect(cs.imageID).to.include('echo-basic');
      expect(p.status?.conditions?.map((c) => `${c.type}=${c.status}`)).to.include.members(['PodScheduled=True', 'Initialized=True', 'ContainersReady=True', 'Ready=True']);
      const res = await get(`http://${p.status!.podIP}:3000/some/path`);
      expect(res.status).to.equal(200);
      const echo = JSON.parse(res.body) as { pod: string; namespace: string; path: string };
      expect(echo).to.include({ pod: p.metadata.name, namespace: ns, path: '/some/path' });
    }
    expect(ps[0].status?.podIP).to.not.equal(ps[1].status?.podIP);
  });

  it('gives a Service over them an EndpointSlice with both pod IPs, ready', async () => {
    await apply([{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: ns }, spec: { selector: { app: 'echo' }, ports: [{ name: 'http', port: 8080, targetPort: 3000 }] } }]);
    const ips = (await pods(ns, 'app=echo')).map((p) => p.status!.podIP!).sort();
    await waitFor('an EndpointSlice with both pods ready', async () => {
      const slices = JSON.parse(await kubectl(['get', 'endpointslices', '-n', ns, '-l', 'kubernetes.io/service-name=echo', '-o', 'json'])) as {
        items: { endpoints?: { addresses: string[]; conditions: { ready?: boolean }; nodeName?: string }[]; ports?: { port: number }[] }[];
      };
      const eps = slices.items.flatMap((s) => s.endpoints ?? []);
      const readyIps = eps.filter((e) => e.conditions.ready).flatMap((e) => e.addresses).sort();
      if (JSON.stringify(readyIps) !== JSON.stringify(ips)) return undefined;
      expect(eps.every((e) => e.nodeName === agent.nodeName)).to.equal(true);
      expect(slices.items[0].ports?.[0].port).to.equal(3000);
      return true;
    }, 30_000, 200);
  });

  /** Connects from inside a pod's network namespace; the error code, or "connected". */
  const connectFromPod = async (netns: string, host: string, port: number) => {
    const script = `const s = require('net').connect({ host: ${JSON.stringify(host)}, port: ${port}, timeout: 3000 });
      s.on('connect', () => { console.log('connected'); process.exit(0); });
      s.on('timeout', () => { console.log('ETIMEDOUT'); process.exit(0); });
      s.on('error', (e) => { console.log(e.code); process.exit(0); });`;
    return (await run('ip', ['netns', 'exec', netns, process.execPath, '-e', script])).trim();
  };
  const echoNetns = async () => {
    const netns = agent.podNetns(ns, (await pods(ns, 'app=echo'))[0].metadata.name);
    expect(netns).to.be.a('string');
    return netns!;
  };

  it('isolates a pod: no default route, only its own address and routes to the host side, pods and Services', async () => {
    const netns = await echoNetns();
    const routes = (await run('ip', ['netns', 'exec', netns, 'ip', 'route'])).trim();
    expect(routes).to.not.include('default');
    expect(routes.split('\n').map((l) => l.trim()).sort()).to.deep.equal(['10.244.0.0/16 via 10.244.0.1 dev eth0', '10.244.0.1 dev eth0 scope link', '10.96.0.0/16 via 10.244.0.1 dev eth0']);
    expect((await run('ip', ['netns', 'exec', netns, 'ip', '-6', 'route'])).trim()).to.equal('');
    expect(await run('ip', ['netns', 'exec', netns, 'ip', '-o', '-4', 'addr'])).to.match(/eth0\s+inet 10\.244\.\d+\.\d+\/32/);
  });

  it('isolates a pod: nothing outside the machine is reachable, ENETUNREACH at once', async () => {
    const netns = await echoNetns();
    // Also unused pod and Service addresses, which the host would route out of the machine:
    // the agent's nft guard rejects anything forwarded from a pod veth to elsewhere.
    for (const host of ['192.0.2.1', '8.8.8.8', '198.51.100.7', '10.244.200.200', '10.96.200.200']) {
      const started = Date.now();
      expect(await connectFromPod(netns, host, 80), host).to.equal('ENETUNREACH');
      expect(Date.now() - started, host).to.be.lessThan(2500); // node's start-up included: no connect timeout
    }
  });

  it("isolates a pod: the host's loopback is not the pod's", async () => {
    const netns = await echoNetns();
    let hostConnections = 0;
    const hostServer: Server = createServer((sock) => {
      hostConnections++;
      sock.end();
    });
    await new Promise<void>((r) => hostServer.listen(0, '127.0.0.1', r));
    try {
      const hostPort = (hostServer.address() as { port: number }).port;
      expect(await connectFromPod(netns, '127.0.0.1', hostPort)).to.equal('ECONNREFUSED');
      expect(hostConnections).to.equal(0);
      // The pod's own loopback works: echo-basic listens on it.
      expect(await connectFromPod(netns, '127.0.0.1', 3000)).to.equal('connected');
    } finally {
      hostServer.close();
    }
  });

  it('gives containers downward-API env, Secret, ConfigMap and downward-API volumes, a hostname, and a private /etc', async () => {
    await kubectl(['create', 'secret', 'generic', 'creds', '-n', ns, '--from-literal=password=s3cret', '--from-literal=user=admin']);
    await kubectl(['create', 'configmap', 'settings', '-n', ns, '--from-literal=greeting=hello from a configmap']);
    const script = [
      'echo "name=$POD_NAME ns=$NAMESPACE ip=$POD_IP node=$NODE_NAME password=$PASSWORD greeting=$GREETING expanded=$EXPANDED"',
      'echo "secret=$(cat /etc/secret-volume/pw) user=$(cat /etc/secret-volume/user)"',
      'echo "config=$(cat /root/conf/greeting)"',
      'echo "labels=$(cat /etc/podinfo/labels | tr "\\n" " ")"',
      'echo "hostname=$(hostname) hosts=$(grep -c "$POD_IP" /etc/hosts) token=$(test -s /var/run/secrets/kubernetes.io/serviceaccount/token && echo yes)"',
      'echo "etc-writable=$(touch /etc/x 2>/dev/null && echo yes || echo no) passwd=$(test -s /etc/passwd && echo yes)"',
      'exec sleep 3600',
    ].join('\n');
    await apply([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'inspect', namespace: ns, labels: { app: 'inspect', tier: 'test' } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'sh',
              image: 'waygate.test/sh:latest',
              args: ['-c', script],
              env: [
                ...podEnv,
                { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
                { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'settings', key: 'greeting' } } },
                { name: 'EXPANDED', value: '$(POD_NAME)@$(NAMESPACE)' },
              ],
              volumeMounts: [
                { name: 'secret', mountPath: '/etc/secret-volume' },
                { name: 'config', mountPath: '/root/conf' },
                { name: 'podinfo', mountPath: '/etc/podinfo' },
              ],
            },
          ],
          volumes: [
            { name: 'secret', secret: { secretName: 'creds', items: [{ key: 'password', path: 'pw' }, { key: 'user', path: 'user' }] } },
            { name: 'config', configMap: { name: 'settings' } },
            { name: 'podinfo', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
          ],
        },
      },
    ]);
    const [p] = await waitReady(ns, 'app=inspect', 1);
    const ip = p.status!.podIP!;
    const out = await waitFor('the pod to print its findings', async () => {
      const logs = await kubectl(['logs', '-n', ns, 'inspect']);
      return logs.includes('etc-writable=') ? logs : undefined;
    }, 20_000, 200);
    expect(out).to.include(`name=inspect ns=${ns} ip=${ip} node=${agent.nodeName} password=s3cret greeting=hello from a configmap expanded=inspect@${ns}`);
    expect(out).to.include('secret=s3cret user=admin');
    expect(out).to.include('config=hello from a configmap');
    expect(out).to.include('labels=app="inspect" tier="test"');
    expect(out).to.include('hostname=inspect hosts=1 token=yes');
    // The root filesystem is writable (readOnlyRootFilesystem unset), in the container's own layer.
    expect(out).to.include('etc-writable=yes passwd=yes');
    // All of that only inside the pod: the host's filesystem is untouched.
    for (const path of ['/etc/secret-volume', '/root/conf', '/etc/podinfo', '/var/run/secrets/kubernetes.io', '/etc/x']) expect(existsSync(path), path).to.equal(false);
    expect(readFileSync('/etc/hosts', 'utf8')).to.not.include(ip);
  });

  /** Runs a command inside a running container (its namespaces, root and user), as kubectl exec would. */
  const execIn = async (namespace: string, pod: string, container: string, command: string[]) => {
    const pid = agent.containerPid(namespace, pod, container);
    expect(pid, `${namespace}/${pod}/${container} runs`).to.be.a('number');
    return tryRun('nsenter', ['--target', String(pid), '--net', '--mount', '--uts', '--root', '--wd=/', '--', ...command], { timeoutMs: 10_000 });
  };

  it('reaches another pod by its pod IP (forwarded between pod veths only)', async () => {
    const [echo] = await waitReady(ns, 'app=echo', 2);
    const r = await execIn(ns, 'inspect', 'sh', ['curl', '-s', '-m', '3', `http://${echo.status!.podIP}:3000/from-pod`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.include({ pod: echo.metadata.name, path: '/from-pod' });
    // Forwarding is on only for the agent's veths, not machine-wide.
    const veth = (await vethsOurs())[0];
    expect(readFileSync(`/proc/sys/net/ipv4/conf/${veth}/forwarding`, 'utf8').trim()).to.equal('1');
    expect(readFileSync('/proc/sys/net/ipv4/conf/eth0/forwarding', 'utf8').trim()).to.equal('0');
  });

  it('runs the install contract pod shape: image rule with binds, non-root, read-only root, no capabilities, in-cluster API with a projected token', async () => {
    await kubectl(['create', 'rolebinding', 'view', '-n', ns, '--clusterrole=view', `--serviceaccount=${ns}:default`]);
    const script = `const fs = require('fs');
      const out = { uid: process.getuid(), gid: process.getgid(), cwd: process.cwd(), host: process.env.KUBERNETES_SERVICE_HOST };
      const status = fs.readFileSync('/proc/self/status', 'utf8');
      out.capEff = status.match(/^CapEff:\\s*(\\w+)/m)[1];
      out.capBnd = status.match(/^CapBnd:\\s*(\\w+)/m)[1];
      out.noNewPrivs = status.match(/^NoNewPrivs:\\s*(\\w+)/m)[1];
      try { fs.writeFileSync('/root-file', 'x'); out.root = 'written'; } catch (e) { out.root = e.code; }
      try { fs.writeFileSync('/tmp/scratch', 'x'); out.tmp = 'written'; } catch (e) { out.tmp = e.code; }
      import('@kubernetes/client-node').then(async (k) => {
        const kc = new k.KubeConfig();
        kc.loadFromCluster();
        const list = await kc.makeApiClient(k.CoreV1Api).listNamespacedPod({ namespace: fs.readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8') });
        out.pods = list.items.map((p) => p.metadata.name);
        console.log('RESULT ' + JSON.stringify(out));
      }).catch((e) => console.log('FAILED ' + e.message));
      setInterval(() => {}, 1000);`;
    await apply([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'contract', namespace: ns, labels: { app: 'contract' } },
        spec: {
          automountServiceAccountToken: false,
          securityContext: { runAsUser: 65532, runAsGroup: 65532, runAsNonRoot: true },
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'app',
              image: 'ghcr.io/example/node-app:0.1.0',
              args: ['-e', script],
              securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '256Mi' } },
              volumeMounts: [
                { name: 'tmp', mountPath: '/tmp' },
                { name: 'api', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: 'tmp', emptyDir: {} },
            {
              name: 'api',
              projected: {
                sources: [
                  { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
                  { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
                  { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
                ],
              },
            },
          ],
        },
      },
    ]);
    const out = await waitFor('the contract pod to report', async () => {
      const logs = (await testbed().tryKubectl(['logs', '-n', ns, 'contract'])).stdout;
      if (logs.includes('FAILED')) throw new Error(logs);
      const line = logs.split('\n').find((l) => l.startsWith('RESULT '));
      return line ? (JSON.parse(line.slice(7)) as Record<string, unknown>) : undefined;
    }, 30_000, 300);
    expect(out).to.include({ uid: 65532, gid: 65532, cwd: '/app', host: '10.244.0.1', capEff: '0000000000000000', capBnd: '0000000000000000', noNewPrivs: '1', root: 'EROFS', tmp: 'written' });
    expect(out.pods).to.include('contract');
    expect(existsSync('/root-file')).to.equal(false);
  });

  it('refuses to start a root image user under runAsNonRoot (CreateContainerConfigError), as the kubelet does', async () => {
    await apply([{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'rootful', namespace: ns }, spec: { securityContext: { runAsNonRoot: true }, containers: [{ name: 'echo', image: echoImage }] } }]);
    const waiting = await waitFor('CreateContainerConfigError', async () => {
      const [p] = (await pods(ns)).filter((x) => x.metadata.name === 'rootful');
      const w = p?.status?.containerStatuses?.[0]?.state.waiting;
      return w?.reason === 'CreateContainerConfigError' ? w : undefined;
    }, 20_000, 200);
    expect(waiting.message).to.match(/^container has runAsNonRoot and image will run as root \(pod: "rootful_node-agent-e2e\(.*\)", container: echo\)$/);
    expect(agent.containerPid(ns, 'rootful', 'echo')).to.equal(undefined);
  });

  it('runs preStop before SIGTERM; the terminating endpoint is not ready, still serving during preStop', async () => {
    const out = join(tmp, 'prestop');
    await run('mkdir', ['-p', out]);
    await apply([
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'stopper', namespace: ns }, spec: { selector: { app: 'stopper' }, ports: [{ port: 80, targetPort: 3000 }] } },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'stopper', namespace: ns, labels: { app: 'stopper' } },
        spec: {
          terminationGracePeriodSeconds: 3,
          containers: [
            {
              name: 'sh',
              image: 'waygate.test/sh',
              args: ['-c', "trap 'echo TERM >> /out/log; exit 0' TERM; echo started >> /out/log; while :; do sleep 0.1; done"],
              lifecycle: { preStop: { exec: { command: ['/bin/sh', '-c', 'echo prestop >> /out/log; sleep 1'] } } },
              volumeMounts: [{ name: 'out', mountPath: '/out' }],
            },
          ],
          volumes: [{ name: 'out', hostPath: { path: out } }],
        },
      },
    ]);
    type Ep = { addresses: string[]; conditions: { ready?: boolean; serving?: boolean; terminating?: boolean } };
    const endpoint = async () => {
      const slices = JSON.parse(await kubectl(['get', 'endpointslices', '-n', ns, '-l', 'kubernetes.io/service-name=stopper', '-o', 'json'])) as { items: { endpoints?: Ep[] }[] };
      return slices.items.flatMap((x) => x.endpoints ?? [])[0];
    };
    await waitFor('a ready endpoint', async () => ((await endpoint())?.conditions.ready ? true : undefined), 30_000, 200);
    await kubectl(['delete', 'pod', '-n', ns, 'stopper', '--wait=false']);
    const seen: Ep['conditions'][] = [];
    await waitFor('the pod to be gone', async () => {
      const e = await endpoint();
      if (e) seen.push(e.conditions);
      return (await testbed().tryKubectl(['get', 'pod', '-n', ns, 'stopper'])).code !== 0 ? true : undefined;
    }, 30_000, 100);
    expect(readFileSync(join(out, 'log'), 'utf8')).to.equal('started\nprestop\nTERM\n');
    // While its preStop hook runs: terminating, not ready, still serving (Ready as the kubelet reports it).
    expect(seen.some((c) => c.terminating === true && c.ready === false && c.serving === true), JSON.stringify(seen)).to.equal(true);
    expect(seen.some((c) => c.ready === true && c.terminating === true), JSON.stringify(seen)).to.equal(false);
  });

  it('serves Service ClusterIPs through kube-proxy, from the host and from a pod, selector-less Services with controller-managed EndpointSlices too', async () => {
    await testbed().ensureKubeProxy(agent.nodeName);
    const echo = await waitReady(ns, 'app=echo', 2);
    const clusterIp = async (name: string) => (JSON.parse(await kubectl(['get', 'service', '-n', ns, name, '-o', 'json'])) as { spec: { clusterIP: string } }).spec.clusterIP;
    // The Service "echo" (port 8080 → 3000) made above.
    const ip = await clusterIp('echo');
    const hostSeen = await waitFor('the ClusterIP to answer from the host', async () => {
      const r = await get(`http://${ip}:8080/via-service`).catch(() => undefined);
      return r?.status === 200 ? (JSON.parse(r.body) as { pod: string }) : undefined;
    }, 20_000, 200);
    expect(echo.map((p) => p.metadata.name)).to.include(hostSeen.pod);
    const fromPod = await execIn(ns, 'inspect', 'sh', ['curl', '-s', '-m', '3', `http://${ip}:8080/via-service`]);
    expect(fromPod.code, fromPod.stderr).to.equal(0);
    expect(echo.map((p) => p.metadata.name)).to.include((JSON.parse(fromPod.stdout) as { pod: string }).pod);
    // The API server through the `kubernetes` Service, whose endpoint is the host side of the veths.
    const api = await execIn(ns, 'inspect', 'sh', ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt', 'https://10.96.0.1:443/version']);
    expect(api.stdout).to.be.oneOf(['200', '401', '403']); // TLS verified against the test bed CA, an HTTP answer
    // Selector-less, with an EndpointSlice kept by another controller (as the operator does).
    const target = echo[0];
    await apply([
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'manual', namespace: ns }, spec: { ports: [{ name: 'http', port: 9090, targetPort: 3000 }] } },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'manual-1', namespace: ns, labels: { 'kubernetes.io/service-name': 'manual', 'endpointslice.kubernetes.io/managed-by': 'e2e.waygate.test' } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 3000, protocol: 'TCP' }],
        endpoints: [{ addresses: [target.status!.podIP!], conditions: { ready: true } }],
      },
    ]);
    const manualIp = await clusterIp('manual');
    const manual = await waitFor('the selector-less ClusterIP to answer', async () => {
      const r = await get(`http://${manualIp}:9090/manual`).catch(() => undefined);
      return r?.status === 200 ? (JSON.parse(r.body) as { pod: string }) : undefined;
    }, 20_000, 200);
    expect(manual.pod).to.equal(target.metadata.name);
  });

  it('runs the echo server with TLS from a mounted Secret, as the conformance tls-backend does', async () => {
    const dir = join(tmp, 'tls');
    await run('mkdir', ['-p', dir]);
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=abc.example.com', '-days', '1', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt')]);
    await kubectl(['create', 'secret', 'tls', 'tls-checks-certificate', '-n', ns, `--cert=${join(dir, 'tls.crt')}`, `--key=${join(dir, 'tls.key')}`]);
    await apply([
      deployment(
        'tls-backend',
        ns,
        1,
        {
          image: echoImage,
          env: [...podEnv, { name: 'TLS_SERVER_CERT', value: '/etc/secret-volume/crt' }, { name: 'TLS_SERVER_PRIVKEY', value: '/etc/secret-volume/key' }],
          volumeMounts: [{ name: 'secret-volume', mountPath: '/etc/secret-volume' }],
          readinessProbe: { tcpSocket: { port: 8443 }, periodSeconds: 1 },
        },
        [{ name: 'secret-volume', secret: { secretName: 'tls-checks-certificate', items: [{ key: 'tls.crt', path: 'crt' }, { key: 'tls.key', path: 'key' }] } }],
      ),
    ]);
    const [p] = await waitReady(ns, 'app=tls-backend', 1);
    const res = await get(`https://${p.status!.podIP}:8443/tls`, true);
    expect(res.status).to.equal(200);
    expect(res.peerCN).to.equal('abc.example.com');
    expect(JSON.parse(res.body)).to.include({ pod: p.metadata.name, namespace: ns, path: '/tls' });
  });

  it('waits for a missing Secret volume (ContainerCreating) and starts once it exists', async () => {
    await apply([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'late-secret', namespace: ns, labels: { app: 'late-secret' } },
        spec: { containers: [{ name: 'echo', image: echoImage, volumeMounts: [{ name: 's', mountPath: '/etc/late' }] }], volumes: [{ name: 's', secret: { secretName: 'late' } }] },
      },
    ]);
    const waiting = await waitFor('ContainerCreating for the missing secret', async () => {
      const [p] = await pods(ns, 'app=late-secret');
      const w = p?.status?.containerStatuses?.[0]?.state.waiting;
      return w?.message?.includes('"late" not found') ? w : undefined;
    }, 20_000, 200);
    expect(waiting.reason).to.equal('ContainerCreating');
    await kubectl(['create', 'secret', 'generic', 'late', '-n', ns, '--from-literal=k=v']);
    await waitReady(ns, 'app=late-secret', 1, 20_000);
  });

  it('serves container logs to kubectl logs: all, --tail, --timestamps, --since, -f, --previous', async () => {
    const [p] = await pods(ns, 'app=echo');
    await get(`http://${p.status!.podIP}:3000/logged`);
    const logs = await waitFor('the request in the log', async () => {
      const l = await kubectl(['logs', '-n', ns, p.metadata.name]);
      return l.includes('/logged') ? l : undefined;
    }, 10_000, 200);
    expect(logs).to.include('Starting server, listening on port 3000 (http)');
    expect(logs).to.match(/Echoing back request made to \/logged to client \(10\.244\.0\.1:\d+\)/);
    expect((await kubectl(['logs', '-n', ns, p.metadata.name, '--tail=1'])).trim()).to.match(/^Echoing back request made to \/logged/);
    expect((await kubectl(['logs', '-n', ns, p.metadata.name, '--tail=1', '--timestamps'])).trim()).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z Echoing back/);
    const since = await kubectl(['logs', '-n', ns, p.metadata.name, '--since=1h']);
    expect(since).to.include('/logged');

    // -f streams until the container ends; a container that restarts keeps a previous log.
    await apply([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'counter', namespace: ns },
        spec: { restartPolicy: 'OnFailure', containers: [{ name: 'sh', image: 'waygate.test/sh', command: ['/bin/sh', '-c', 'for i in 1 2 3; do echo line $i; sleep 0.3; done; echo run; exit 1'] }] },
      },
    ]);
    await waitFor('counter to run', async () => ((await pods(ns)).find((x) => x.metadata.name === 'counter')?.status?.containerStatuses?.[0]?.state.running ? true : undefined), 20_000, 100);
    const followed = await kubectl(['logs', '-n', ns, 'counter', '-f']);
    expect(followed).to.match(/line 1\nline 2\nline 3\nrun\n$/);
    await waitFor('a restart', async () => ((await pods(ns)).find((x) => x.metadata.name === 'counter')?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 ? true : undefined, 20_000, 200);
    expect(await kubectl(['logs', '-n', ns, 'counter', '--previous'])).to.equal('line 1\nline 2\nline 3\nrun\n');
    // The kubelet API refuses callers without a client certificate of the test bed CA.
    const anonymous = await tryRun('curl', ['-sk', '-o', '/dev/null', '-w', '%{http_code}', `https://127.0.0.1:${agent.kubeletPort}/containerLogs/${ns}/${p.metadata.name}/echo`]);
    expect(anonymous.stdout).to.not.equal('200');
  });

  it('restarts a crashing container with backoff, counting restarts, and reports the last termination', async () => {
    await apply([{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'crasher', namespace: ns }, spec: { containers: [{ name: 'sh', image: 'waygate.test/sh', args: ['-c', 'echo crashing; exit 3'] }] } }]);
    const p = await waitFor('two restarts, then a back-off', async () => {
      const x = (await pods(ns)).find((y) => y.metadata.name === 'crasher');
      const c = x?.status?.containerStatuses?.[0];
      return c && c.restartCount >= 2 && c.state.waiting?.reason === 'CrashLoopBackOff' ? x : undefined;
    }, 30_000, 100);
    const cs = p.status!.containerStatuses![0];
    expect(cs.lastState.terminated).to.include({ exitCode: 3, reason: 'Error' });
    expect(cs.ready).to.equal(false);
    expect(p.status?.phase).to.equal('Running');
    expect(ready(p)).to.equal(false);
    // Backoff: 1 s, 2 s, 4 s... so no more than a handful of restarts in a few seconds.
    expect(cs.restartCount).to.be.lessThan(6);
  });

  it('restarts a container whose liveness probe fails (exec probe, in the container)', async () => {
    await apply([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'unhealthy', namespace: ns },
        spec: {
          containers: [
            {
              name: 'sh',
              image: 'waygate.test/sh',
              // Healthy while /tmp/healthy exists in the container's own root (not the host's).
              args: ['-c', 'touch /tmp/healthy; sleep 2; rm /tmp/healthy; exec sleep 3600'],
              livenessProbe: { exec: { command: ['test', '-f', '/tmp/healthy'] }, periodSeconds: 1, failureThreshold: 2 },
            },
          ],
        },
      },
    ]);
    const p = await waitFor('a restart by the liveness probe', async () => {
      const x = (await pods(ns)).find((y) => y.metadata.name === 'unhealthy');
      return (x?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 ? x : undefined;
    }, 20_000, 200);
    // Killed with SIGTERM (128 + 15), not exited by itself.
    expect(p.status!.containerStatuses![0].lastState.terminated).to.include({ exitCode: 143 });
    expect(existsSync('/tmp/healthy')).to.equal(false);
  });

  it('is Ready only once its readiness probe passes', async () => {
    await apply([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'probed', namespace: ns, labels: { app: 'probed' } },
        spec: { containers: [{ name: 'echo', image: echoImage, readinessProbe: { httpGet: { path: '/healthz', port: 3000 }, periodSeconds: 1 } }] },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'never-ready', namespace: ns, labels: { app: 'never-ready' } },
        spec: { containers: [{ name: 'echo', image: echoImage, ports: [{ name: 'nothing', containerPort: 3999 }], readinessProbe: { httpGet: { path: '/', port: 'nothing' }, periodSeconds: 1 } }] },
      },
    ]);
    await waitReady(ns, 'app=probed', 1, 20_000);
    await new Promise((r) => setTimeout(r, 3000));
    const [p] = await pods(ns, 'app=never-ready');
    expect(p.status?.phase).to.equal('Running');
    expect(p.status?.containerStatuses?.[0]).to.include({ started: true, ready: false });
    expect(ready(p)).to.equal(false);
  });

  it('reports an unmapped image as Waiting/ImageNotMapped, never Ready', async () => {
    await apply([{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'unmapped', namespace: ns }, spec: { containers: [{ name: 'app', image: 'example.invalid/team/mystery-app:1.0' }] } }]);
    const waiting = await waitFor('ImageNotMapped', async () => {
      const p = (await pods(ns)).find((x) => x.metadata.name === 'unmapped');
      return p?.status?.containerStatuses?.[0]?.state.waiting?.reason === 'ImageNotMapped' ? p : undefined;
    }, 20_000, 200);
    expect(waiting.status?.containerStatuses?.[0].state.waiting?.message).to.include('example.invalid/team/mystery-app:1.0').and.include('not mapped');
    expect(waiting.status?.phase).to.equal('Pending');
    await new Promise((r) => setTimeout(r, 2000));
    const p = (await pods(ns)).find((x) => x.metadata.name === 'unmapped')!;
    expect(ready(p)).to.equal(false);
    expect(p.status?.containerStatuses?.[0]).to.include({ ready: false, started: false, restartCount: 0 });
  });

  it('deletes a pod like a kubelet: processes and netns gone, the ReplicaSet replaces it', async () => {
    const [victim] = await pods(ns, 'app=echo');
    const name = victim.metadata.name;
    const pid = agent.containerPid(ns, name, 'echo')!;
    const netns = agent.podNetns(ns, name)!;
    expect(isAlive(pid)).to.equal(true);
    expect(await netnsOurs()).to.include(netns);
    const started = Date.now();
    await kubectl(['delete', 'pod', '-n', ns, name, '--wait=true', '--timeout=30s']);
    timings.podDeletionMs = Date.now() - started;
    expect(isAlive(pid)).to.equal(false);
    expect(await netnsOurs()).to.not.include(netns);
    const after = await waitReady(ns, 'app=echo', 2, 30_000);
    expect(after.map((p) => p.metadata.name)).to.not.include(name);
    const res = await get(`http://${after.find((p) => p.metadata.name !== name)!.status!.podIP}:3000/`);
    expect(res.status).to.equal(200);
  });

  it('lets a namespace with running pods be deleted', async () => {
    await kubectl(['create', 'namespace', ns2]);
    await waitFor('the default ServiceAccount', async () => ((await testbed().tryKubectl(['get', 'serviceaccount', 'default', '-n', ns2])).code === 0 ? true : undefined), 30_000, 200);
    await apply([deployment('echo', ns2, 2, { image: echoImage, env: podEnv })]);
    await waitReady(ns2, 'app=echo', 2);
    const started = Date.now();
    await kubectl(['delete', 'namespace', ns2, '--wait=true', '--timeout=60s']);
    timings.namespaceDeletionMs = Date.now() - started;
    expect((await testbed().tryKubectl(['get', 'namespace', ns2])).code).to.not.equal(0);
  });

  it('runs the Gateway API conformance base manifests until every pod in their namespaces is Ready', async function () {
    this.timeout(180_000);
    const src = await goModuleSource('sigs.k8s.io/gateway-api/conformance', (versions as typeof versions & { gatewayApiConformance: string }).gatewayApiConformance);
    // As the suite applies them: the GatewayClass name filled in (no controller runs here, so
    // the Gateways stay unaccepted; only their pods are looked at).
    const manifests = readFileSync(join(src, 'base', 'manifests.yaml'), 'utf8').replaceAll('{GATEWAY_CLASS_NAME}', 'node-agent-e2e');
    const started = Date.now();
    await kubectl(['apply', '-f', '-'], manifests);
    // The Secrets the suite creates in code after applying the manifests (utils/suite/suite.go).
    const dir = join(tmp, 'conformance');
    await run('mkdir', ['-p', dir]);
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=abc.example.com', '-days', '1', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt')]);
    for (const [n, name] of [
      ['gateway-conformance-infra', 'tls-checks-certificate'],
      ['gateway-conformance-infra', 'tls-passthrough-checks-certificate'],
      ['gateway-conformance-app-backend', 'tls-passthrough-checks-certificate'],
    ]) {
      await kubectl(['create', 'secret', 'tls', name, '-n', n, `--cert=${join(dir, 'tls.crt')}`, `--key=${join(dir, 'tls.key')}`]);
    }
    const expected = parseAllDocuments(manifests)
      .map((d) => d.toJS() as { kind?: string; metadata?: { namespace?: string }; spec?: { replicas?: number } } | null)
      .filter((o) => o?.kind === 'Deployment')
      .reduce((n, o) => n + (o!.spec?.replicas ?? 1), 0);
    const all = await waitFor('every conformance pod Ready', async () => {
      const ps = (await Promise.all(conformanceNamespaces.map((n) => pods(n)))).flat();
      // The suite's check (NamespacesMustBeReady): every pod Ready, or Succeeded, or terminating.
      if (ps.length < expected || !ps.every((p) => ready(p) || p.status?.phase === 'Succeeded' || p.metadata.deletionTimestamp)) return undefined;
      return ps;
    }, 150_000, 500);
    timings.conformanceBaseReadyMs = Date.now() - started;
    all.forEach(remember);
    expect(all.length).to.equal(expected);

    // Each kind of backend answers: HTTP, gRPC (h2c), TLS, TCP, and UDP (v1.7.0's echo-basic
    // with UDP_ECHO_SERVER replaced CoreDNS in the base manifests).
    const byApp = (app: string) => all.find((p) => p.metadata.labels?.app === app)!;
    const http = JSON.parse((await get(`http://${byApp('infra-backend-v1').status!.podIP}:3000/`)).body) as { pod: string; namespace: string };
    expect(http).to.include({ pod: byApp('infra-backend-v1').metadata.name, namespace: 'gateway-conformance-infra' });
    expect((await get(`https://${byApp('tls-backend').status!.podIP}:8443/`, true)).peerCN).to.equal('abc.example.com');
    const tcpPod = byApp('tcp-backend');
    const tcp = await run(process.execPath, ['-e', `let out = ''; const s = require('net').connect(3000, ${JSON.stringify(tcpPod.status!.podIP)}, () => s.write('TEST\\n'));
      s.on('data', (d) => (out += d)); setTimeout(() => { console.log(out); process.exit(0); }, 1000);`]);
    expect(tcp).to.include(tcpPod.metadata.name);
    const udpPod = byApp('udp');
    const echo = JSON.parse(await udpEcho(udpPod.status!.podIP!, 8080, 'ping')) as { request: string; pod: string };
    expect(echo).to.include({ request: 'ping', pod: udpPod.metadata.name });
  });

  it('stop(): no process, network namespace or veth is left behind', async () => {
    const before = { netns: (await netnsOurs()).length, veths: (await vethsOurs()).length };
    expect(before.netns).to.be.greaterThan(0);
    expect(before.veths).to.equal(before.netns);
    for (const p of await pods(ns)) remember(p);
    expect([...pids].some(isAlive)).to.equal(true);
    const started = Date.now();
    await agent.stop();
    timings.stopMs = Date.now() - started;
    expect(await netnsOurs()).to.deep.equal([]);
    expect(await vethsOurs()).to.deep.equal([]);
    expect([...pids].filter(isAlive)).to.deep.equal([]);
    expect((await run('ip', ['route'])).split('\n').filter((l) => /^10\.244\./.test(l) && l.includes(`wgp${agentId}`))).to.deep.equal([]);
    expect(existsSync(join(agent.stateDir, 'pods'))).to.equal(false);
    // What the API shows: the node is no longer Ready, the pods no longer Ready.
    const node = JSON.parse(await kubectl(['get', 'node', agent.nodeName, '-o', 'json'])) as { status: { conditions: { type: string; status: string }[] } };
    expect(node.status.conditions.find((c) => c.type === 'Ready')?.status).to.equal('Unknown');
    const echo = await pods(ns, 'app=echo');
    expect(echo.some(ready)).to.equal(false);
  });

  it('after a crash (SIGKILL) its containers die with it, and cleanup removes the namespaces and veths it left', async () => {
    // The CLI's agent (test/cluster/node/cli.ts), in a process of its own that can be killed;
    // its state dir is that of the agent stopped above.
    const tbDir = testbed().stateDir;
    const env = { ...process.env, WAYGATE_TESTBED_DIR: tbDir };
    const child = spawn(process.execPath, ['--import', 'tsx', join(clusterSrcDir, 'node', 'cli.ts'), 'start'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    try {
      await waitFor('the CLI agent', async () => (stderr.includes('Ctrl-C stops it') ? true : child.exitCode === null ? undefined : Promise.reject(new Error(stderr))), 60_000, 100);
      await apply([{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'orphan', namespace: ns, labels: { app: 'orphan' } }, spec: { containers: [{ name: 'echo', image: echoImage }] } }]);
      await waitFor('orphan to run', async () => ((await pods(ns, 'app=orphan'))[0]?.status?.containerStatuses?.[0]?.state.running ? true : undefined), 30_000, 100);
      // It also runs again the pods still bound to the node from the agent stopped before.
      const listNetns = async () => (await run('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(`waygate-${agentId}-`));
      const netns = await listNetns();
      expect(netns.length).to.be.greaterThan(0);
      const containerPids = (await Promise.all(netns.map((n) => run('ip', ['netns', 'pids', n])))).join('\n').split('\n').filter(Boolean).map(Number);
      expect(containerPids.length).to.be.greaterThan(0);
      child.kill('SIGKILL');
      await waitFor('the containers to die with the agent', async () => (containerPids.some(isAlive) ? undefined : true), 5000, 50);
      expect(await listNetns()).to.include.members(netns); // left behind, until cleanup or the next start
      const cleanup = await tryRun(process.execPath, ['--import', 'tsx', join(clusterSrcDir, 'node', 'cli.ts'), 'cleanup'], { env });
      expect(cleanup.code).to.equal(0);
      expect(cleanup.stderr).to.include(`netns ${netns[0]}`);
      expect((await run('ip', ['netns', 'list'])).split('\n').filter((l) => l.startsWith(`waygate-${agentId}-`))).to.deep.equal([]);
      expect((await run('ip', ['-o', 'link', 'show'])).split('\n').filter((l) => l.includes(`wgp${agentId}`))).to.deep.equal([]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

/** One UDP datagram to the conformance UDP echo server; resolves with its (JSON) answer. */
function udpEcho(server: string, port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no UDP echo from ${server}:${port}`));
    }, 3000);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(msg.toString('utf8'));
    });
    sock.send(Buffer.from(payload), port, server);
  });
}

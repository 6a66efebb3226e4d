// The real install on the test bed: `kubectl apply -k` of manifests/ (through test/deploy,
// which only maps the two images to directories laid out from their Dockerfiles), the node
// agent running the Deployment's pods (operator + nginx sidecar, in-cluster credentials from
// the projected token), kube-proxy making ClusterIPs real. A Gateway and a route applied by
// the teams' personas serve traffic through the Gateway's own Service; the leader's operator
// is killed and a rolling update runs, both under steady load, and no request may fail.
import { expect } from 'chai';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layoutImage } from '../../scripts/image-layout.ts';
import { tryRun } from '../cluster/exec.ts';
import { repoRoot } from '../cluster/paths.ts';
import { cleanupNodeAgent, startNodeAgent, type NodeAgent } from '../cluster/node/agent.ts';
import { eventually } from '../support/http.ts';
import { conditionMap, getObject } from '../support/kube.ts';
import { testbed } from '../testbed.ts';

const SYSTEM = 'waygate-system';
const INFRA = 'infra'; // the test bed's persona namespaces: chihiro works in infra, ana in team-a
const TEAM = 'team-a';
const CONTROLLER = 'waygate.dev/gateway-controller';
const HOST = 'shop.deploy.example.com';

/** One GET with a fresh connection (kube-proxy picks an endpoint per connection). */
function hit(ip: string, port: number, host: string, path = '/', timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: ip, port, path, headers: { host }, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (e) => resolve({ status: 0, body: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: e.message }));
    req.end();
  });
}

/** Writes `data` on a new TCP connection and collects what comes back within a second. */
function tcpExchange(ip: string, port: number, data: string): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const sock = connect({ host: ip, port }, () => sock.write(data));
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (out += d));
    sock.on('error', () => resolve(out));
    setTimeout(() => { sock.destroy(); resolve(out); }, 1000);
  });
}

/** One datagram to ip:port; the first answer, or '' after a second. */
function udpExchange(ip: string, port: number, data: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    const done = (v: string) => { clearTimeout(timer); sock.close(); resolve(v); };
    const timer = setTimeout(() => done(''), 1000);
    sock.on('message', (m) => done(m.toString('utf8')));
    sock.on('error', () => done(''));
    sock.send(data, port, ip);
  });
}

/** Requests in a loop until stopped: what a client of the Gateway sees during a disruption. */
class SteadyLoad {
  sent = 0;
  failures: string[] = [];
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(ip: string, port: number, host: string, concurrency = 4, pauseMs = 10) {
    this.done = Promise.all(Array.from({ length: concurrency }, async () => {
      while (!this.stopped) {
        const r = await hit(ip, port, host);
        this.sent++;
        if (r.status !== 200) this.failures.push(`${new Date().toISOString()} ${r.status} ${r.body.slice(0, 120)}`);
        await new Promise((res) => setTimeout(res, pauseMs));
      }
    })).then(() => undefined);
  }

  async stop(): Promise<{ sent: number; failures: string[] }> {
    this.stopped = true;
    await this.done;
    return { sent: this.sent, failures: this.failures };
  }
}

const kubectl = (args: string[], as?: string) => testbed().kubectl(args, as ? { as } : {});
const applyAs = (as: string, obj: unknown) => testbed().kubectl(['apply', '-f', '-'], { as, input: JSON.stringify(obj) });

async function podsOf(): Promise<any[]> {
  return JSON.parse(await kubectl(['get', 'pods', '-n', SYSTEM, '-l', 'app.kubernetes.io/name=waygate', '-o', 'json'])).items;
}

const isReady = (p: any) => !p.metadata.deletionTimestamp && (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');

/** Resident memory of a process and its descendants, in MiB (from /proc). */
function rssMiB(rootPid: number): number {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const ppid = Number(readFileSync(`/proc/${e}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch { /* gone */ }
  }
  let kb = 0;
  const walk = (pid: number) => {
    try {
      kb += Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m)?.[1] ?? 0);
    } catch { /* gone */ }
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(rootPid);
  return Math.round(kb / 1024);
}

describe('the real deployment: kubectl apply -k on the test bed (operator + nginx pods, Gateway Services, kube-proxy)', function () {
  this.timeout(180_000);
  let agent: NodeAgent | undefined;
  let tmp: string;
  let nodeDir: string;
  let logFile: string;
  let clusterIP = '';
  const figures: Record<string, string> = {};

  before(async function () {
    this.timeout(15 * 60_000);
    tmp = mkdtempSync(join(tmpdir(), 'waygate-deploy-'));
    chmodSync(tmp, 0o755); // the containers run as uid 65532 and must reach their image directories
    nodeDir = join(testbed().stateDir, 'deploy-node');
    logFile = join(testbed().stateDir, 'logs', 'deploy-node-agent.log');
    mkdirSync(join(testbed().stateDir, 'logs'), { recursive: true });
    // The images, laid out from their Dockerfiles as a build would produce them.
    const imageFiles: string[] = [];
    for (const [name, dockerfile] of [['operator', 'operator/Dockerfile'], ['nginx', 'nginx/Dockerfile']] as const) {
      const t0 = Date.now();
      const config = layoutImage(join(repoRoot, dockerfile), join(tmp, name));
      const file = join(tmp, `${name}.image.json`);
      writeFileSync(file, JSON.stringify({ repository: `waygate.test/${name}`, ...config }));
      imageFiles.push(file);
      figures[`layout ${name}`] = `${Date.now() - t0} ms`;
    }
    agent = await startNodeAgent({
      kubeconfig: testbed().kubeconfig,
      stateDir: nodeDir,
      imageFiles,
      // The install's own drain (preStop sleep, then nginx's graceful quit) must run in full.
      gracePeriodCapMs: 30_000,
      log: (m) => appendFileSync(logFile, `${new Date().toISOString()} ${m}\n`),
    });
    await testbed().ensureKubeProxy(agent.nodeName);
  });

  after(async function () {
    this.timeout(120_000);
    // Nothing of the install may outlive this suite: the conformance run uses the same controller name.
    await testbed().tryKubectl(['delete', '-k', join(repoRoot, 'test', 'deploy'), '--ignore-not-found', '--wait=false']);
    await testbed().tryKubectl(['delete', 'gateway', 'shop', '-n', INFRA, '--ignore-not-found', '--wait=false']);
    await testbed().tryKubectl(['delete', 'httproute,tcproute,udproute,deployment,service', '-l', 'e2e=deployment', '-n', TEAM, '--ignore-not-found', '--wait=false']);
    await eventually('waygate pods gone', () => testbed().tryKubectl(['get', 'pods', '-n', SYSTEM, '-o', 'name']), (r) => r.stdout.trim() === '', 60_000, 500).catch(() => {});
    await agent?.stop();
    await cleanupNodeAgent(nodeDir);
    for (const ns of [SYSTEM, TEAM]) await testbed().tryKubectl(['delete', 'pods', '--all', '-n', ns, '--force', '--grace-period=0', '--wait=false']);
    rmSync(tmp, { recursive: true, force: true });
    console.error(`      deployment figures: ${Object.entries(figures).map(([k, v]) => `${k}: ${v}`).join('; ')}`);
    console.error(`      node agent log: ${logFile}`);
  });

  it('kubectl apply -k brings up two ready replicas; the nginx container holds no Kubernetes credentials', async () => {
    const t0 = Date.now();
    await kubectl(['apply', '-k', join(repoRoot, 'test', 'deploy')]);
    await eventually('two ready waygate pods', podsOf, (pods) => pods.filter(isReady).length === 2, 120_000, 500);
    figures['apply -k to 2 ready pods'] = `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    figures.t0 = String(t0);
    for (const pod of (await podsOf()).filter(isReady)) {
      const nginxPid = agent!.containerPid(SYSTEM, pod.metadata.name, 'nginx')!;
      const operatorPid = agent!.containerPid(SYSTEM, pod.metadata.name, 'operator')!;
      // --root: the container's own root (the node agent chroots each container).
      const ls = (pid: number) => tryRun('nsenter', ['--target', String(pid), '--mount', '--root', '--', 'ls', '/var/run/secrets/kubernetes.io/serviceaccount']);
      expect((await ls(nginxPid)).code, 'nginx container: no token directory').to.not.equal(0);
      expect((await ls(operatorPid)).stdout.split('\n')).to.include.members(['token', 'ca.crt', 'namespace']);
      // Both run as 65532, and the root filesystem is read-only for them.
      for (const pid of [nginxPid, operatorPid]) {
        expect(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)?.[1]).to.equal('65532');
        const w = await tryRun('nsenter', ['--target', String(pid), '--mount', '--root', '--', 'setpriv', '--reuid=65532', '--regid=65532', '--clear-groups', 'touch', '/app/x']);
        expect(w.code, 'write to the image filesystem').to.not.equal(0);
      }
    }
  });

  it('a Gateway applied by the cluster operator gets its own Service (owned by it) and reports its ClusterIP; a team\'s route serves through it', async () => {
    const t0 = Number(figures.t0);
    await applyAs('chihiro', {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'shop', namespace: INFRA },
      spec: {
        gatewayClassName: 'waygate',
        listeners: ([['http', 'HTTP', 80], ['tcp', 'TCP', 9000], ['udp', 'UDP', 9001]] as const).map(([name, protocol, port]) => ({
          name, protocol, port, allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { 'shared-gateway-access': 'true' } } } },
        })),
      },
    });
    const backend = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'shop', namespace: TEAM, labels: { e2e: 'deployment' } },
      spec: {
        replicas: 1, selector: { matchLabels: { app: 'shop' } },
        template: {
          metadata: { labels: { app: 'shop' } },
          spec: { containers: [{ name: 'echo', image: 'registry.k8s.io/gateway-api/echo-basic:v1.7.0', env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }], ports: [{ containerPort: 3000 }], readinessProbe: { httpGet: { path: '/', port: 3000 }, periodSeconds: 1 } }] },
        },
      },
    };
    await applyAs('ana', backend);
    await applyAs('ana', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'shop', namespace: TEAM, labels: { e2e: 'deployment' } }, spec: { selector: { app: 'shop' }, ports: [{ port: 8080, targetPort: 3000 }] } });
    await applyAs('ana', {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'shop', namespace: TEAM, labels: { e2e: 'deployment' } },
      spec: { parentRefs: [{ name: 'shop', namespace: INFRA }], hostnames: [HOST], rules: [{ backendRefs: [{ name: 'shop', port: 8080 }] }] },
    });
    const gw = await eventually('Gateway shop programmed with an address', () => getObject('gateway', INFRA, 'shop'), (g) => conditionMap(g?.status?.conditions).Programmed === 'True/Programmed' && g.status.addresses?.length > 0, 60_000, 200);
    const svc = JSON.parse(await kubectl(['get', 'service', 'shop-waygate', '-n', INFRA, '-o', 'json']));
    expect(svc.metadata.ownerReferences).to.deep.include({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'shop', uid: gw.metadata.uid, controller: true });
    expect(svc.spec.type).to.equal('LoadBalancer');
    // One Service port per listener port, with the listener's transport protocol.
    expect(svc.spec.ports.map((p: any) => `${p.port}/${p.protocol}`)).to.deep.equal(['80/TCP', '9000/TCP', '9001/UDP']);
    clusterIP = svc.spec.clusterIP;
    // No load balancer controller on the test bed: the ClusterIP is the address until one exists.
    expect(gw.status.addresses).to.deep.equal([{ type: 'IPAddress', value: clusterIP }]);
    const first = await eventually('first 200 through the Gateway Service', () => hit(clusterIP, 80, HOST), (r) => r.status === 200, 90_000, 100);
    expect(JSON.parse(first.body).namespace).to.equal(TEAM);
    figures['apply -k to first 200 (incl. Gateway, backend and route applies)'] = `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  });

  it('TCP and UDP listeners of the same Gateway serve a team\'s TCPRoute and UDPRoute through the Gateway\'s Service', async () => {
    const env = (extra: Record<string, string>) => [
      ...Object.entries(extra).map(([name, value]) => ({ name, value })),
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ];
    await applyAs('ana', {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'shop-stream', namespace: TEAM, labels: { e2e: 'deployment' } },
      spec: {
        replicas: 1, selector: { matchLabels: { app: 'shop-stream' } },
        template: {
          metadata: { labels: { app: 'shop-stream' } },
          spec: {
            containers: [
              { name: 'tcp', image: 'registry.k8s.io/gateway-api/echo-basic:v1.7.0', env: env({ TCP_ECHO_SERVER: '1', TCP_PORT: '3000', TLS_PORT: '3443' }), ports: [{ containerPort: 3000 }] },
              { name: 'udp', image: 'registry.k8s.io/gateway-api/echo-basic:v1.7.0', env: env({ UDP_ECHO_SERVER: '1', UDP_PORT: '3001' }), ports: [{ containerPort: 3001, protocol: 'UDP' }] },
            ],
          },
        },
      },
    });
    for (const [name, port, target, protocol] of [['shop-tcp', 9000, 3000, 'TCP'], ['shop-udp', 9001, 3001, 'UDP']] as const) {
      await applyAs('ana', { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: TEAM, labels: { e2e: 'deployment' } }, spec: { selector: { app: 'shop-stream' }, ports: [{ port, targetPort: target, protocol }] } });
    }
    for (const [kind, name, section, backend, port] of [['TCPRoute', 'shop-tcp', 'tcp', 'shop-tcp', 9000], ['UDPRoute', 'shop-udp', 'udp', 'shop-udp', 9001]] as const) {
      await applyAs('ana', {
        apiVersion: 'gateway.networking.k8s.io/v1', kind, metadata: { name, namespace: TEAM, labels: { e2e: 'deployment' } },
        spec: { parentRefs: [{ name: 'shop', namespace: INFRA, sectionName: section }], rules: [{ backendRefs: [{ name: backend, port }] }] },
      });
    }
    // TCP: echo-basic's line protocol (PING -> PONG, TEST -> its pod context as JSON).
    const tcp = await eventually('TCP echo through the Gateway Service', () => tcpExchange(clusterIP, 9000, 'PING\nTEST\n'), (out) => out.includes('PONG') && out.includes(`"namespace":"${TEAM}"`), 60_000, 250);
    expect(tcp).to.include('PONG');
    const udp = await eventually('UDP echo through the Gateway Service', () => udpExchange(clusterIP, 9001, 'hello waygate'), (out) => out.includes('hello waygate'), 60_000, 250);
    expect(JSON.parse(udp)).to.include({ request: 'hello waygate', namespace: TEAM });
  });

  it('kubectl describe httproute shows the conditions the operator in the pod wrote', async () => {
    const out = await kubectl(['describe', 'httproute', 'shop', '-n', TEAM]);
    expect(out).to.match(new RegExp(`Controller Name:\\s+${CONTROLLER.replace(/\./g, "\\.")}`));
    expect(out).to.match(/Reason:\s+Accepted[\s\S]*Status:\s+True[\s\S]*Type:\s+Accepted/);
    expect(out).to.match(/Type:\s+ResolvedRefs/);
  });

  it('the leader records Events that kubectl describe shows: a route whose backend does not exist', async () => {
    await applyAs('ana', {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'shop-broken', namespace: TEAM, labels: { e2e: 'deployment' } },
      spec: { parentRefs: [{ name: 'shop', namespace: INFRA }], hostnames: [`broken.${HOST}`], rules: [{ backendRefs: [{ name: 'missing', port: 8080 }] }] },
    });
    const out = await eventually('a Warning Event on the route', () => kubectl(['describe', 'httproute', 'shop-broken', '-n', TEAM]), (o) => /Warning\s+BackendNotFound/.test(o), 30_000, 250);
    expect(out).to.include('missing');
    // Exactly one, from one replica: the leader (followers track transitions but do not send).
    const events = JSON.parse(await kubectl(['get', 'events', '-n', TEAM, '--field-selector', 'involvedObject.name=shop-broken,reason=BackendNotFound', '-o', 'json'])).items;
    expect(events).to.have.length(1);
    expect(events[0].count ?? 1).to.equal(1);
  });

  it('both containers serve /metrics: the operator its pipeline, the agent per-route traffic', async () => {
    for (let i = 0; i < 5; i++) expect((await hit(clusterIP, 80, HOST)).status).to.equal(200);
    const pods = (await podsOf()).filter(isReady);
    let routeRequests = 0;
    for (const pod of pods) {
      const op = await fetch(`http://${pod.status.podIP}:9090/metrics`).then((r) => r.text());
      expect(op).to.match(/^waygate_/m);
      const ag = await fetch(`http://${pod.status.podIP}:9091/metrics`).then((r) => r.text());
      for (const m of ag.matchAll(/^(\w+requests\w*)\{([^}]*)\}\s+(\d+)/gm)) {
        if (m[2]!.includes(`${TEAM}/shop`) && m[2]!.includes('2xx')) routeRequests += Number(m[3]);
      }
      figures[`${pod.metadata.name} RSS at idle`] = `operator ${rssMiB(agent!.containerPid(SYSTEM, pod.metadata.name, 'operator')!)} MiB, nginx container (agent + nginx) ${rssMiB(agent!.containerPid(SYSTEM, pod.metadata.name, 'nginx')!)} MiB`;
    }
    expect(routeRequests, 'per-route 2xx requests across both pods').to.be.at.least(5);
  });

  it('killing the leader\'s operator: status writes resume within the lease duration and traffic never stops', async () => {
    const lease = JSON.parse(await kubectl(['get', 'lease', 'waygate', '-n', SYSTEM, '-o', 'json']));
    const leaderPod = lease.spec.holderIdentity as string;
    const pid = agent!.containerPid(SYSTEM, leaderPod, 'operator');
    expect(pid, `operator of ${leaderPod}`).to.be.a('number');
    const load = new SteadyLoad(clusterIP, 80, HOST);
    await new Promise((r) => setTimeout(r, 1000));
    const killedAt = Date.now();
    process.kill(pid!, 'SIGKILL');
    await applyAs('ana', {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'shop-v2', namespace: TEAM, labels: { e2e: 'deployment' } },
      spec: { parentRefs: [{ name: 'shop', namespace: INFRA }], hostnames: [`v2.${HOST}`], rules: [{ backendRefs: [{ name: 'shop', port: 8080 }] }] },
    });
    await eventually('status of a route applied after the kill', () => getObject('httproute', TEAM, 'shop-v2'), (r) => (r?.status?.parents ?? []).some((p: any) => conditionMap(p.conditions).Accepted === 'True/Accepted'), 30_000, 200);
    const resumedS = (Date.now() - killedAt) / 1000;
    await eventually('the new route serves', () => hit(clusterIP, 80, `v2.${HOST}`), (r) => r.status === 200, 20_000, 100);
    const { sent, failures } = await load.stop();
    figures['leader operator killed: status resumed after'] = `${resumedS.toFixed(1)} s`;
    figures['requests during the leader kill'] = `${sent} sent, ${failures.length} failed`;
    expect(resumedS, 'lease duration 15 s + retry 2 s + slack').to.be.below(20);
    expect(failures, failures.slice(0, 5).join('\n')).to.deep.equal([]);
  });

  it('a rolling update of the Deployment under steady load loses no request', async function () {
    this.timeout(240_000);
    const before = new Set((await podsOf()).map((p) => p.metadata.name));
    const load = new SteadyLoad(clusterIP, 80, HOST);
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    await kubectl(['rollout', 'restart', 'deployment/waygate', '-n', SYSTEM]);
    await kubectl(['rollout', 'status', 'deployment/waygate', '-n', SYSTEM, '--timeout=180s']);
    // Old pods finish their drain (preStop sleep, graceful quit) before the load stops.
    await eventually('old pods gone', podsOf, (pods) => pods.every((p) => !before.has(p.metadata.name)), 90_000, 500);
    const rolledS = (Date.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    const { sent, failures } = await load.stop();
    figures['rolling update'] = `${rolledS.toFixed(1)} s, ${sent} requests, ${failures.length} failed`;
    expect(sent).to.be.above(100);
    expect(failures, failures.slice(0, 5).join('\n')).to.deep.equal([]);
    expect((await podsOf()).filter(isReady)).to.have.length(2);
  });

  it('deleting the Gateway deletes its Service (owner reference)', async () => {
    await kubectl(['delete', 'gateway', 'shop', '-n', INFRA], 'chihiro');
    await eventually('Service shop-waygate gone', () => testbed().tryKubectl(['get', 'service', 'shop-waygate', '-n', INFRA]), (r) => r.code !== 0, 60_000, 250);
    await eventually('EndpointSlice gone', () => testbed().tryKubectl(['get', 'endpointslice', 'shop-waygate', '-n', INFRA]), (r) => r.code !== 0, 60_000, 250);
  });
});

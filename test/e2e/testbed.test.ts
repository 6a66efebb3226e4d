// The test bed is real: a real API server with RBAC and CRD validation, a real
// controller-manager, and a real nginx with the stream module.
import { expect } from 'chai';
import { stringify } from 'yaml';
import { waitFor } from '../cluster/exec.ts';
import { versions } from '../cluster/paths.ts';
import { isAlive, freePort, assertPortsFree } from '../cluster/processes.ts';
import { defaultPorts, startCluster } from '../cluster/cluster.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNginx, type ThrowawayNginx } from '../cluster/nginx.ts';
import { testbed } from '../testbed.ts';

const yaml = (...objs: object[]) => objs.map((o) => stringify(o)).join('---\n');
const getJson = async <T>(args: string[]): Promise<T> => JSON.parse(await testbed().kubectl([...args, '-o', 'json'])) as T;

describe('test bed: control plane', () => {
  it('answers kubectl version with the pinned Kubernetes release', async () => {
    const v = await getJson<{ serverVersion: { gitVersion: string }; clientVersion: { gitVersion: string } }>(['version']);
    expect(v.serverVersion.gitVersion).to.equal(versions.kubernetes);
    expect(v.clientVersion.gitVersion).to.equal(versions.kubernetes);
  });

  it('has the Gateway API CRDs of the pinned release installed and Established', async () => {
    const crds = await getJson<{ items: { metadata: { name: string; annotations?: Record<string, string> }; status: { conditions?: { type: string; status: string }[] } }[] }>(['get', 'crd']);
    const ours = crds.items.filter((c) => c.metadata.name.endsWith('.gateway.networking.k8s.io'));
    const names = ours.map((c) => c.metadata.name.split('.')[0]);
    for (const kind of ['gatewayclasses', 'gateways', 'httproutes', 'grpcroutes', 'referencegrants', 'tlsroutes', 'tcproutes', 'udproutes', 'backendtlspolicies']) {
      expect(names, kind).to.include(kind);
    }
    for (const c of ours) {
      expect(c.metadata.annotations?.['gateway.networking.k8s.io/bundle-version'], c.metadata.name).to.equal(versions.gatewayApi);
      expect(c.status.conditions?.find((x) => x.type === 'Established')?.status, c.metadata.name).to.equal('True');
    }
  });

  it('rejects an HTTPRoute that breaks the CRD CEL rules, with the rule message', async () => {
    const route = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'relative-path', namespace: 'default' },
      spec: { rules: [{ matches: [{ path: { type: 'PathPrefix', value: 'no-leading-slash' } }] }] },
    };
    const r = await testbed().tryKubectl(['create', '-f', '-'], { input: yaml(route) });
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.include('The HTTPRoute "relative-path" is invalid: spec.rules[0].matches[0].path');
    expect(r.stderr).to.include("value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']");
  });

  describe('kube-controller-manager', () => {
    const ns = 'e2e-testbed-endpoints';
    const node = 'e2e-testbed-node';
    after(async () => {
      await testbed().tryKubectl(['delete', 'namespace', ns, '--wait=false']);
      await testbed().tryKubectl(['delete', 'node', node]);
    });

    it('turns a ready Pod behind a Service into an EndpointSlice', async () => {
      const k = testbed();
      await k.kubectl(['create', 'namespace', ns]);
      await k.kubectl(['create', '-f', '-'], {
        input: yaml(
          { apiVersion: 'v1', kind: 'Node', metadata: { name: node } },
          { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: ns }, spec: { selector: { app: 'echo' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
        ),
      });
      // The serviceaccount controller must have made "default" before a Pod is admitted.
      await waitFor('the default ServiceAccount', async () => ((await k.tryKubectl(['get', 'sa', 'default', '-n', ns])).code === 0 ? true : undefined), 30_000);
      await k.kubectl(['create', '-f', '-'], {
        input: yaml({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'echo-1', namespace: ns, labels: { app: 'echo' } }, spec: { nodeName: node, containers: [{ name: 'echo', image: 'echo', ports: [{ containerPort: 8080 }] }] } }),
      });
      const status = { status: { phase: 'Running', podIP: '10.244.0.10', podIPs: [{ ip: '10.244.0.10' }], conditions: [{ type: 'Ready', status: 'True' }] } };
      await k.kubectl(['patch', 'pod', 'echo-1', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);

      type Slices = { items: { endpoints?: { addresses: string[]; conditions: { ready?: boolean } }[]; ports?: { port: number }[] }[] };
      const endpoint = await waitFor('an EndpointSlice with the pod address', async () => {
        const slices = await getJson<Slices>(['get', 'endpointslices', '-n', ns, '-l', 'kubernetes.io/service-name=echo']);
        return slices.items.flatMap((s) => (s.endpoints ?? []).map((e) => ({ ...e, ports: s.ports }))).find((e) => e.addresses.includes('10.244.0.10'));
      }, 30_000, 250);
      expect(endpoint.conditions.ready).to.equal(true);
      expect(endpoint.ports?.map((p) => p.port)).to.deep.equal([8080]);
    });

    it('removes the objects of a deleted namespace, then the namespace', async () => {
      const k = testbed();
      const doomed = 'e2e-testbed-doomed';
      await k.kubectl(['create', 'namespace', doomed]);
      await k.kubectl(['create', 'configmap', 'settings', '-n', doomed, '--from-literal=a=b']);
      await k.kubectl(['create', '-f', '-'], {
        input: yaml({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r', namespace: doomed }, spec: { rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }] } }),
      });
      await k.kubectl(['delete', 'namespace', doomed, '--wait=false']);
      await waitFor('the namespace to be gone', async () => ((await k.tryKubectl(['get', 'namespace', doomed])).code !== 0 ? true : undefined), 60_000, 250);
      const left = await k.kubectl(['get', 'configmaps,httproutes', '-n', doomed, '--ignore-not-found', '-o', 'name']);
      expect(left.trim()).to.equal('');
    });
  });

  describe('RBAC for the personas', () => {
    const gateway = (namespace: string) => ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'not-yours', namespace },
      spec: { gatewayClassName: 'waygate', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    });
    const route = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'ana-route', namespace: 'team-a' }, spec: { parentRefs: [{ name: 'shared', namespace: 'infra' }] } };
    after(async () => {
      await testbed().tryKubectl(['delete', 'gateway', 'not-yours', '-n', 'infra', '--ignore-not-found']);
      await testbed().tryKubectl(['delete', 'httproute', 'ana-route', '-n', 'team-a', '--ignore-not-found']);
    });

    it('forbids an application developer to create a Gateway in the infrastructure namespace (403)', async () => {
      const r = await testbed().tryKubectl(['create', '-f', '-', '-v=6'], { as: 'ana', input: yaml(gateway('infra')) });
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.match(/verb="POST" url="https:\/\/\S+\/namespaces\/infra\/gateways\S*" status="403 Forbidden"/);
      expect(r.stderr).to.include('User "ana" cannot create resource "gateways" in API group "gateway.networking.k8s.io" in the namespace "infra"');
    });

    it('lets an application developer create an HTTPRoute in their own namespace only', async () => {
      const created = await testbed().kubectl(['create', '-f', '-'], { as: 'ana', input: yaml(route) });
      expect(created).to.include('httproute.gateway.networking.k8s.io/ana-route created');
      const other = await testbed().tryKubectl(['create', '-f', '-'], { as: 'ana', input: yaml({ ...route, metadata: { name: 'x', namespace: 'team-b' } }) });
      expect(other.stderr).to.include('User "ana" cannot create resource "httproutes"');
    });

    it('lets the cluster operator create that Gateway, and the admin impersonate a persona', async () => {
      await testbed().kubectl(['create', '-f', '-'], { as: 'chihiro', input: yaml(gateway('infra')) });
      const denied = await testbed().tryKubectl(['create', '-f', '-', '--as=ana', '--as-group=waygate:personas'], { input: yaml({ ...gateway('infra'), metadata: { name: 'x', namespace: 'infra' } }) });
      expect(denied.stderr).to.include('User "ana" cannot create resource "gateways"');
      const gc = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'not-chihiros' }, spec: { controllerName: 'example.com/x' } };
      const noClass = await testbed().tryKubectl(['create', '-f', '-'], { as: 'chihiro', input: yaml(gc) });
      expect(noClass.stderr).to.include('User "chihiro" cannot create resource "gatewayclasses"');
    });
  });
});

describe('test bed: lifecycle', () => {
  it('cleans up after a crashed run, and stopping leaves no process and frees the ports', async function () {
    this.timeout(180_000);
    // A second cluster beside the shared one: own state dir, own ports.
    const stateDir = join(tmpdir(), 'waygate-testbed-lifecycle');
    const ports = defaultPorts(27000);
    const logs: string[] = [];
    const first = await startCluster({ stateDir, ports, log: (m) => logs.push(m) });
    // The node process "crashes": nothing calls stop(), the detached servers keep running.
    const orphans = first.processes.map((p) => p.pid);
    expect(orphans.every(isAlive)).to.equal(true);

    const second = await startCluster({ stateDir, ports, log: (m) => logs.push(m) });
    try {
      expect(logs).to.include('test bed: stopped processes left by an earlier run: kube-controller-manager, kube-apiserver, etcd');
      expect(orphans.some(isAlive)).to.equal(false);
      const v = JSON.parse(await second.kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } };
      expect(v.serverVersion.gitVersion).to.equal(versions.kubernetes);
    } finally {
      await second.stop();
    }
    expect(second.processes.map((p) => p.pid).some(isAlive)).to.equal(false);
    await assertPortsFree({ ...ports });
  });
});

describe('test bed: nginx', () => {
  let nginx: ThrowawayNginx | undefined;
  afterEach(async () => nginx?.stop());

  it('runs a throwaway nginx with the stream module that passes nginx -t and serves HTTP and TCP', async () => {
    const httpPort = await freePort();
    const tcpPort = await freePort();
    nginx = await startNginx({
      http: `server { listen 127.0.0.1:${httpPort}; location / { return 200 "hello from nginx\\n"; } }`,
      stream: `server { listen 127.0.0.1:${tcpPort}; proxy_pass 127.0.0.1:${httpPort}; }`,
    });
    const t = await nginx.test();
    expect(t.ok, t.output).to.equal(true);
    expect(t.output).to.include('test is successful');
    for (const port of [httpPort, tcpPort]) {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      expect(res.status, `port ${port}`).to.equal(200);
      expect(await res.text()).to.equal('hello from nginx\n');
    }
  });

  it('keeps serving the old config when a new one fails nginx -t', async () => {
    const port = await freePort();
    nginx = await startNginx({ http: `server { listen 127.0.0.1:${port}; return 200 "v1"; }` });
    const err = await nginx.reload({ http: `server { listen 127.0.0.1:${port}; return 200 "v2" }` }).then(() => undefined, (e: Error) => e);
    expect(err?.message).to.include('nginx -t failed').and.include('unexpected "}"');
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).to.equal('v1');
    await nginx.reload({ http: `server { listen 127.0.0.1:${port}; return 200 "v3"; }` });
    await waitFor('the reload to serve v3', async () => ((await (await fetch(`http://127.0.0.1:${port}/`)).text()) === 'v3' ? true : undefined), 5000, 50);
  });
});

// The persona RBAC that manifests/ ships (components/personas-3tier, personas-4tier and the
// per-namespace bindings of personas/), checked cell by cell against the write-permission
// tables of the seeds (shared/seeds/000_*.txt, "RBAC"):
//
//   3 层模型的写权限 (Write Permissions for Simple 3 Tier Model)
//   | 角色\资源      | GatewayClass | Gateway | Route |
//   | 基础设施提供者 | Yes          | Yes     | Yes   |
//   | 集群运维       | No           | Yes     | Yes   |
//   | 应用开发者     | No           | No      | Yes   |
//
//   4 层模型的写权限 (Write Permissions for Advanced 4 Tier Model)
//   | 角色\资源      | GatewayClass | Gateway           | Route             |
//   | 基础设施提供者 | Yes          | Yes               | Yes               |
//   | 集群运维       | Sometimes    | Yes               | Yes               |
//   | 应用管理员     | No           | 仅能在指定命名空间 | 仅能在指定命名空间 |
//   | 应用开发者     | No           | No                | 仅能在指定命名空间 |
//
// Every write goes to the real API server with the persona's own bearer token: an allowed
// cell must create, update, patch and delete; a denied cell must get 403 Forbidden for each
// of them (on an object the admin made). "Route" is every route kind; a namespaced "Yes" is
// checked in the persona's namespace and in another team's. The application developer's 3-tier
// "Yes" holds in her namespaces only (seed 002: Gateway and Route rights are namespace-level
// roles, developers act only in their own namespace). "Sometimes" is a GatewayClass role that
// the component leaves unbound: denied, then allowed once the documented delegation binding is
// applied. A last group checks choices beyond the tables (ReferenceGrant, status, namespace
// labels), named as ours.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { repoRoot } from '../cluster/paths.ts';
import { testbed } from '../testbed.ts';

const group = 'gateway.networking.k8s.io';
const manifests = join(repoRoot, 'manifests');

/** Namespaces of this suite: the one the namespace-bound personas are given, and another team's. */
const home = 'rbac-home';
const other = 'rbac-other';

interface Identity {
  /** The user name the API server sees (in its 403 messages). */
  user: string;
  token: string;
}

interface Kind {
  kind: string;
  plural: string;
  version: string;
  namespaced: boolean;
  spec: object;
}

const kinds = {
  GatewayClass: { kind: 'GatewayClass', plural: 'gatewayclasses', version: 'v1', namespaced: false, spec: { controllerName: 'example.com/rbac-test' } },
  // A class nobody implements: no controller acts on these objects.
  Gateway: { kind: 'Gateway', plural: 'gateways', version: 'v1', namespaced: true, spec: { gatewayClassName: 'rbac-test', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] } },
  HTTPRoute: { kind: 'HTTPRoute', plural: 'httproutes', version: 'v1', namespaced: true, spec: { rules: [{ backendRefs: [{ name: 's', port: 80 }] }] } },
  GRPCRoute: { kind: 'GRPCRoute', plural: 'grpcroutes', version: 'v1', namespaced: true, spec: { rules: [{ backendRefs: [{ name: 's', port: 80 }] }] } },
  TLSRoute: { kind: 'TLSRoute', plural: 'tlsroutes', version: 'v1', namespaced: true, spec: { hostnames: ['a.example.com'], rules: [{ backendRefs: [{ name: 's', port: 443 }] }] } },
  TCPRoute: { kind: 'TCPRoute', plural: 'tcproutes', version: 'v1', namespaced: true, spec: { rules: [{ backendRefs: [{ name: 's', port: 80 }] }] } },
  UDPRoute: { kind: 'UDPRoute', plural: 'udproutes', version: 'v1', namespaced: true, spec: { rules: [{ backendRefs: [{ name: 's', port: 53 }] }] } },
  ReferenceGrant: { kind: 'ReferenceGrant', plural: 'referencegrants', version: 'v1', namespaced: true, spec: { from: [{ group, kind: 'HTTPRoute', namespace: other }], to: [{ group: '', kind: 'Service' }] } },
} satisfies Record<string, Kind>;

/** The tables' columns as kinds: "Route" is every route kind. */
const columns = {
  GatewayClass: [kinds.GatewayClass],
  Gateway: [kinds.Gateway],
  Route: [kinds.HTTPRoute, kinds.GRPCRoute, kinds.TLSRoute, kinds.TCPRoute, kinds.UDPRoute],
};
type Column = keyof typeof columns;
type Cell = 'Yes' | 'No' | 'Sometimes' | '仅能在指定命名空间';

// ---- the API, as a persona (bearer token) or as the admin (client certificate) ----

interface Reply {
  status: number;
  body: { reason?: string; message?: string; metadata?: { resourceVersion?: string } } & Record<string, unknown>;
}

function api(who: Identity | 'admin', method: string, path: string, body?: object, contentType = 'application/json'): Promise<Reply> {
  const { server, pki } = testbed();
  const auth = who === 'admin' ? { cert: readFileSync(pki.adminCert), key: readFileSync(pki.adminKey) } : {};
  const headers: Record<string, string> = { accept: 'application/json' };
  if (who !== 'admin') headers.authorization = `Bearer ${who.token}`;
  const data = body === undefined ? undefined : JSON.stringify(body);
  if (data !== undefined) headers['content-type'] = contentType;
  return new Promise((resolve, reject) => {
    const req = request(`${server}${path}`, { method, headers, ca: readFileSync(pki.caCert), ...auth, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Reply['body']) : {} }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.on('error', reject);
    req.end(data);
  });
}

const collection = (k: Kind, ns?: string) => `/apis/${group}/${k.version}/${k.namespaced ? `namespaces/${ns}/` : ''}${k.plural}`;
const objectOf = (k: Kind, name: string, ns?: string) => ({ apiVersion: `${group}/${k.version}`, kind: k.kind, metadata: { name, ...(k.namespaced ? { namespace: ns } : {}) }, spec: k.spec });

let serial = 0;
const freshName = (who: string, k: Kind) => `rbac-${who.replace(/[^a-z0-9-]/g, '-').slice(0, 30)}-${k.plural}-${++serial}`;

function describeReply(r: Reply): string {
  return `${r.status} ${r.body.reason ?? ''} ${r.body.message ?? ''}`.trim();
}

/** create, update, patch and delete with the persona's token: each must succeed. */
async function expectAllowed(who: Identity, k: Kind, ns?: string): Promise<void> {
  const name = freshName(who.user, k);
  const at = `${collection(k, ns)}/${name}`;
  const created = await api(who, 'POST', collection(k, ns), objectOf(k, name, ns));
  expect(created.status, `${who.user} create ${k.kind} in ${ns ?? 'the cluster'}: ${describeReply(created)}`).to.equal(201);
  const updated = await api(who, 'PUT', at, { ...created.body, metadata: { ...(created.body.metadata as object), labels: { 'rbac-test': 'updated' } } });
  expect(updated.status, `${who.user} update ${k.kind}: ${describeReply(updated)}`).to.equal(200);
  const patched = await api(who, 'PATCH', at, { metadata: { labels: { 'rbac-test': 'patched' } } }, 'application/merge-patch+json');
  expect(patched.status, `${who.user} patch ${k.kind}: ${describeReply(patched)}`).to.equal(200);
  const deleted = await api(who, 'DELETE', at);
  expect(deleted.status, `${who.user} delete ${k.kind}: ${describeReply(deleted)}`).to.be.oneOf([200, 202]);
}

function expectForbidden(r: Reply, who: Identity, verb: string, k: Kind, ns?: string): void {
  const where = ns ? ` in the namespace "${ns}"` : '';
  expect(r.status, `${who.user} ${verb} ${k.kind}${where} should be forbidden: ${describeReply(r)}`).to.equal(403);
  expect(r.body.reason).to.equal('Forbidden');
  expect(r.body.message).to.include(`User "${who.user}" cannot ${verb} resource "${k.plural}" in API group "${group}"${where}`);
}

/** create, update, patch and delete with the persona's token: each 403, and the admin's object untouched. */
async function expectDenied(who: Identity, k: Kind, ns?: string): Promise<void> {
  const created = await api(who, 'POST', collection(k, ns), objectOf(k, freshName(who.user, k), ns));
  expectForbidden(created, who, 'create', k, ns);
  const name = freshName('admin', k);
  const at = `${collection(k, ns)}/${name}`;
  const fixture = await api('admin', 'POST', collection(k, ns), objectOf(k, name, ns));
  expect(fixture.status, `admin create ${k.kind}: ${describeReply(fixture)}`).to.equal(201);
  try {
    expectForbidden(await api(who, 'PUT', at, { ...fixture.body, metadata: { ...(fixture.body.metadata as object), labels: { 'rbac-test': 'updated' } } }), who, 'update', k, ns);
    expectForbidden(await api(who, 'PATCH', at, { metadata: { labels: { 'rbac-test': 'patched' } } }, 'application/merge-patch+json'), who, 'patch', k, ns);
    expectForbidden(await api(who, 'DELETE', at), who, 'delete', k, ns);
    const still = await api('admin', 'GET', at);
    expect(still.status).to.equal(200);
    expect((still.body.metadata as { labels?: object }).labels ?? {}).to.not.have.property('rbac-test');
  } finally {
    await api('admin', 'DELETE', at);
  }
}

// ---- applying the shipped RBAC ----

interface Ref {
  kind: string;
  name: string;
  namespace?: string;
}

async function kubectl(args: string[], input?: string): Promise<string> {
  return testbed().kubectl(args, input === undefined ? {} : { input });
}

/** Renders a kustomization written in a temp dir (kustomize wants paths relative to it). */
async function render(kustomization: (rel: (p: string) => string) => object): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'waygate-rbac-'));
  try {
    writeFileSync(join(dir, 'kustomization.yaml'), stringify(kustomization((p) => relative(dir, join(manifests, p)))));
    return await kubectl(['kustomize', dir]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const refsOf = (yaml: string): Ref[] =>
  parseAllDocuments(yaml)
    .map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string } } | null)
    .filter((o) => o !== null)
    .map((o) => ({ kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace }));

/** Cluster-scoped objects this suite created (not there before it): deleted after it. */
const createdHere: Ref[] = [];

async function applyRendered(yaml: string): Promise<void> {
  for (const ref of refsOf(yaml).filter((r) => !r.namespace)) {
    const there = await testbed().tryKubectl(['get', `${ref.kind.toLowerCase()}.rbac.authorization.k8s.io/${ref.name}`]);
    if (there.code !== 0 && !createdHere.some((c) => c.kind === ref.kind && c.name === ref.name)) createdHere.push(ref);
  }
  await kubectl(['apply', '-f', '-'], yaml);
}

type Subject = { kind: 'User'; name: string } | { kind: 'ServiceAccount'; name: string; namespace: string };
const subjectPatch = (binding: string, s: Subject) => ({
  target: { kind: 'RoleBinding', name: binding },
  patch: JSON.stringify([{ op: 'replace', path: '/subjects/0', value: s.kind === 'User' ? { apiGroup: 'rbac.authorization.k8s.io', ...s } : s }]),
});

function persona(role: string): Identity {
  const p = testbed().personas.find((x) => (x.role as string) === role);
  if (!p) throw new Error(`the test bed has no ${role} persona`);
  return { user: p.name, token: p.token };
}

/** The application admin: the test bed's persona when it has one, else a ServiceAccount of this
 * suite with a TokenRequest token (a real bearer identity too; see the report of issue #11). */
async function applicationAdmin(): Promise<{ id: Identity; subject: Subject }> {
  const p = testbed().personas.find((x) => (x.role as string) === 'application-admin');
  if (p) return { id: { user: p.name, token: p.token }, subject: { kind: 'User', name: p.name } };
  console.error('personas-rbac: the test bed has no application-admin persona; the application admin is ServiceAccount rbac-other/application-admin');
  await kubectl(['create', 'serviceaccount', 'application-admin', '-n', other]);
  const token = (await kubectl(['create', 'token', 'application-admin', '-n', other, '--duration=1h'])).trim();
  return { id: { user: `system:serviceaccount:${other}:application-admin`, token }, subject: { kind: 'ServiceAccount', name: 'application-admin', namespace: other } };
}

/** Cluster-wide bindings besides ours that name the personas: they would also grant the
 * cluster-wide personas (Ian, Chihiro) writes, so their allowed cells could not fail for a fault
 * of ours. The test bed binds the shipped component itself (test/cluster/personas/), so there
 * should be none; any is said in the output, not hidden. */
async function reportOtherGrants(): Promise<void> {
  const names = new Set(testbed().personas.flatMap((p) => [p.name, ...p.groups]));
  const list = JSON.parse(await kubectl(['get', 'clusterrolebindings', '-o', 'json'])) as { items: { metadata: { name: string }; roleRef: { name: string }; subjects?: { name: string }[] }[] };
  const others = list.items.filter((b) => !b.metadata.name.startsWith('waygate:persona:') && (b.subjects ?? []).some((s) => names.has(s.name)));
  if (others.length) console.error(`personas-rbac: other ClusterRoleBindings also bind the personas (allowed cells of cluster-wide personas are not ours alone): ${others.map((b) => `${b.metadata.name} -> ${b.roleRef.name}`).join(', ')}`);
}

/** One persona's row: every column's cell expanded into writes per kind and namespace. */
function checkRow(label: string, who: () => Identity, row: Record<Column, Cell>, namespaceBound: boolean): void {
  for (const column of Object.keys(columns) as Column[]) {
    const cell = row[column];
    if (cell === 'Sometimes') continue; // its own test below
    for (const k of columns[column]) {
      if (!k.namespaced) {
        it(`${label}: ${column} ${cell}: ${k.kind} ${cell === 'Yes' ? 'written' : 'forbidden'}`, async () => {
          await (cell === 'Yes' ? expectAllowed(who(), k) : expectDenied(who(), k));
        });
        continue;
      }
      // Yes for a cluster-wide persona: everywhere. Yes for a namespace-bound persona, or 仅能在指定命名空间: its namespace only.
      const allowedIn = cell === 'No' ? [] : namespaceBound ? [home] : [home, other];
      for (const ns of [home, other]) {
        const allowed = allowedIn.includes(ns);
        it(`${label}: ${column} ${cell}: ${k.kind} in ${ns === home ? 'its namespace' : "another team's namespace"} ${allowed ? 'written' : 'forbidden'}`, async () => {
          await (allowed ? expectAllowed(who(), k, ns) : expectDenied(who(), k, ns));
        });
      }
    }
  }
}

describe('persona RBAC (manifests/components): the seeds write-permission tables, cell by cell', function () {
  this.timeout(60_000);

  before(async () => {
    for (const ns of [home, other]) await kubectl(['create', 'namespace', ns]);
  });

  after(async () => {
    for (const ns of [home, other]) await testbed().tryKubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
    for (const ref of createdHere) await testbed().tryKubectl(['delete', `${ref.kind.toLowerCase()}.rbac.authorization.k8s.io/${ref.name}`, '--ignore-not-found']);
    await testbed().tryKubectl(['delete', 'gatewayclasses', '-l', 'rbac-test', '--ignore-not-found']);
  });

  describe('3-tier model (components/personas-3tier, personas/namespace-3tier)', () => {
    before(async () => {
      await reportOtherGrants();
      await applyRendered(await render((rel) => ({ components: [rel('components/personas-3tier')] })));
      await applyRendered(
        await render((rel) => ({
          namespace: home,
          resources: [rel('personas/namespace-3tier')],
          patches: [subjectPatch('waygate:persona:application-developer', { kind: 'User', name: persona('application-developer').user })],
        })),
      );
    });

    checkRow('Ian (infrastructure provider)', () => persona('infrastructure-provider'), { GatewayClass: 'Yes', Gateway: 'Yes', Route: 'Yes' }, false);
    checkRow('Chihiro (cluster operator)', () => persona('cluster-operator'), { GatewayClass: 'No', Gateway: 'Yes', Route: 'Yes' }, false);
    checkRow('Ana (application developer)', () => persona('application-developer'), { GatewayClass: 'No', Gateway: 'No', Route: 'Yes' }, true);
  });

  describe('4-tier model (components/personas-4tier, personas/namespace-4tier)', () => {
    let admin: Identity | undefined;
    const adminId = () => {
      if (!admin) throw new Error('the application admin identity was not set up');
      return admin;
    };

    before(async () => {
      const a = await applicationAdmin();
      admin = a.id;
      await applyRendered(await render((rel) => ({ components: [rel('components/personas-4tier')] })));
      await applyRendered(
        await render((rel) => ({
          namespace: home,
          resources: [rel('personas/namespace-4tier')],
          patches: [
            subjectPatch('waygate:persona:application-developer', { kind: 'User', name: persona('application-developer').user }),
            subjectPatch('waygate:persona:application-admin', a.subject),
          ],
        })),
      );
    });

    checkRow('infrastructure provider', () => persona('infrastructure-provider'), { GatewayClass: 'Yes', Gateway: 'Yes', Route: 'Yes' }, false);
    checkRow('cluster operator', () => persona('cluster-operator'), { GatewayClass: 'Sometimes', Gateway: 'Yes', Route: 'Yes' }, false);
    checkRow('application admin', adminId, { GatewayClass: 'No', Gateway: '仅能在指定命名空间', Route: '仅能在指定命名空间' }, true);
    checkRow('application developer', () => persona('application-developer'), { GatewayClass: 'No', Gateway: 'No', Route: '仅能在指定命名空间' }, true);

    it('cluster operator: GatewayClass Sometimes: forbidden until the delegation binding (gatewayclass-delegation.example.yaml) is applied, then written', async () => {
      const chihiro = persona('cluster-operator');
      await expectDenied(chihiro, kinds.GatewayClass);
      const delegation = readFileSync(join(manifests, 'components/personas-4tier/gatewayclass-delegation.example.yaml'), 'utf8');
      await applyRendered(delegation);
      try {
        // RBAC changes reach the authorizer through an informer: give it a moment.
        const deadline = Date.now() + 10_000;
        while ((await kubectl(['auth', 'can-i', 'create', 'gatewayclasses.gateway.networking.k8s.io', `--as=${chihiro.user}`, '--as-group=waygate:cluster-operators']).catch(() => 'no')).trim() !== 'yes') {
          if (Date.now() > deadline) throw new Error('the delegation binding never took effect');
          await new Promise((r) => setTimeout(r, 100));
        }
        await expectAllowed(chihiro, kinds.GatewayClass);
      } finally {
        await kubectl(['delete', '-f', '-', '--ignore-not-found'], delegation);
      }
    });

    describe('beyond the tables (our choices; manifests/components comments say why)', () => {
      it('ReferenceGrant: the application admin opens its namespace, the developer cannot, the cluster operator can anywhere', async () => {
        await expectAllowed(adminId(), kinds.ReferenceGrant, home);
        await expectDenied(adminId(), kinds.ReferenceGrant, other);
        await expectDenied(persona('application-developer'), kinds.ReferenceGrant, home);
        await expectAllowed(persona('cluster-operator'), kinds.ReferenceGrant, other);
      });

      it('status belongs to the controller: no persona can write Accepted/Programmed conditions (403 on .../status)', async () => {
        const route = await api('admin', 'POST', collection(kinds.HTTPRoute, home), objectOf(kinds.HTTPRoute, 'rbac-status', home));
        expect(route.status).to.equal(201);
        const gw = await api('admin', 'POST', collection(kinds.Gateway, home), objectOf(kinds.Gateway, 'rbac-status', home));
        expect(gw.status).to.equal(201);
        try {
          const forged = { status: { parents: [{ parentRef: { name: 'x' }, controllerName: 'example.com/forged', conditions: [] }] } };
          for (const who of [persona('application-developer'), adminId(), persona('cluster-operator')]) {
            const r = await api(who, 'PATCH', `${collection(kinds.HTTPRoute, home)}/rbac-status/status`, forged, 'application/merge-patch+json');
            expect(r.status, `${who.user} patch httproutes/status: ${describeReply(r)}`).to.equal(403);
            expect(r.body.message).to.include(`cannot patch resource "httproutes/status"`);
          }
          for (const who of [adminId(), persona('cluster-operator')]) {
            const r = await api(who, 'PATCH', `${collection(kinds.Gateway, home)}/rbac-status/status`, { status: { addresses: [{ value: '192.0.2.1' }] } }, 'application/merge-patch+json');
            expect(r.status, `${who.user} patch gateways/status: ${describeReply(r)}`).to.equal(403);
          }
        } finally {
          await api('admin', 'DELETE', `${collection(kinds.HTTPRoute, home)}/rbac-status`);
          await api('admin', 'DELETE', `${collection(kinds.Gateway, home)}/rbac-status`);
        }
      });

      it("namespace labels (allowedRoutes selectors): application admins and developers cannot label their own namespace (403), the cluster operator can", async () => {
        const label = { metadata: { labels: { 'shared-gateway-access': 'true' } } };
        for (const who of [persona('application-developer'), adminId()]) {
          const r = await api(who, 'PATCH', `/api/v1/namespaces/${home}`, label, 'application/merge-patch+json');
          expect(r.status, `${who.user} label namespace ${home}: ${describeReply(r)}`).to.equal(403);
          expect(r.body.message).to.include(`cannot patch resource "namespaces"`);
        }
        const r = await api(persona('cluster-operator'), 'PATCH', `/api/v1/namespaces/${home}`, label, 'application/merge-patch+json');
        expect(r.status, describeReply(r)).to.equal(200);
      });
    });
  });
});

// `waygate render` as a user runs it: exit codes, stdout, and errors that name the file,
// the object and the field.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

const root = join(import.meta.dirname, '..', '..');

function waygate(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'operator/src/main.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const condition = (obj: any, type: string) => obj.status.parents[0].conditions.find((c: any) => c.type === type);

describe('waygate render', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'waygate-cli-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the nginx config of examples/', () => {
    const r = waygate('render', 'examples/');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('# ==== http.conf ====').and.contain('listen "127.0.0.1:8080"');
    // Plain routes are served from the route table (routes.txt), not server blocks.
    expect(r.stdout).to.contain('# ==== routes.txt ====').and.contain('host store.example.com\n');
  });

  it('prints a config larger than a pipe buffer whole (stdout is flushed before exit)', () => {
    const routes = Array.from({ length: 300 }, (_, i) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r${i}, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [h${i}.example.com]
  rules: [{matches: [{path: {type: PathPrefix, value: /p${i}}, headers: [{name: x-tenant, value: t${i}}]}], filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-r, value: r${i}}]}}], backendRefs: [{name: svc, port: 80}]}]
`).join('');
    writeFileSync(join(dir, 'big.yaml'), `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: waygate}
spec: {controllerName: waygate.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec: {gatewayClassName: waygate, listeners: [{name: http, port: 80, protocol: HTTP}]}
${routes}`);
    const r = waygate('render', join(dir, 'big.yaml'));
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.length).to.be.above(128 * 1024);
    expect(r.stdout).to.contain('server_name "h299.example.com";').and.contain('# ==== stream.conf ====');
  });

  it('prints every object\'s conditions with --status', () => {
    const r = waygate('render', '--status', 'examples/');
    expect(r.code, r.stderr).to.equal(0);
    const objs = parseAllDocuments(r.stdout).map((d) => d.toJS());
    const find = (kind: string, ns: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.namespace === ns && o.metadata.name === name);
    expect(condition(find('HTTPRoute', 'team-b', 'search'), 'Accepted')).to.include({ status: 'False', reason: 'NotAllowedByListeners' });
    expect(condition(find('HTTPRoute', 'team-a', 'borrowed-search'), 'ResolvedRefs')).to.include({ status: 'False', reason: 'RefNotPermitted' });
    expect(condition(find('HTTPRoute', 'team-a', 'store'), 'Accepted')).to.include({ status: 'True', reason: 'Accepted' });
    expect(find('Gateway', 'infra', 'web').status.addresses).to.deep.equal([{ type: 'IPAddress', value: '127.0.0.1' }]);
  });

  it('reports an object the API server would refuse (schema and CEL) with its field, and renders the rest (exit 0)', () => {
    writeFileSync(join(dir, 'bad-objects.yaml'), [
      'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: no-slash, namespace: default}\nspec:\n  parentRefs: [{name: gw}]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: "no-slash"}}]',
      'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: double-slash, namespace: default}\nspec:\n  parentRefs: [{name: gw}]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: "/a//b"}}]',
      'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: fine, namespace: default}\nspec:\n  parentRefs: [{name: gw}]\n  hostnames: [fine.example.com]\n  rules:\n  - backendRefs: [{name: svc, port: 80}]',
    ].join('\n---\n'));
    writeFileSync(join(dir, 'gw.yaml'), 'apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: waygate}\nspec: {controllerName: waygate.dev/gateway-controller}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: default}\nspec:\n  gatewayClassName: waygate\n  listeners: [{name: http, protocol: HTTP, port: 80}]\n');
    const r = waygate('render', dir);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/bad-objects\.yaml \(document 1\) HTTPRoute default\/no-slash: spec\.rules\[0\]\.matches\[0\]\.path/);
    expect(r.stderr).to.match(/bad-objects\.yaml \(document 2\) HTTPRoute default\/double-slash: .*must not contain '\/\/'/);
    expect(r.stdout).to.contain('host fine.example.com\n');
    rmSync(join(dir, 'bad-objects.yaml'));
  });

  it('fails with the file named when a file is not YAML, still printing what parsed (exit 1)', () => {
    writeFileSync(join(dir, 'broken.yaml'), 'kind: HTTPRoute\nmetadata: {name: x\n  bad: [\n');
    const r = waygate('render', dir);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/broken\.yaml \(document 1\): invalid YAML/);
    expect(r.stdout).to.contain('listen "');
    rmSync(join(dir, 'broken.yaml'));
  });

  it('refuses an alias bomb, a huge file and deep nesting, each naming its file, and still prints the rest (exit 1)', () => {
    const bomb = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`)].join('\n');
    writeFileSync(join(dir, 'bomb.yaml'), bomb);
    writeFileSync(join(dir, 'huge.yaml'), `kind: Service\n${'# padding\n'.repeat(300_000)}`);
    writeFileSync(join(dir, 'deep.json'), `{"kind": "Service", "spec": ${'['.repeat(5000)}${']'.repeat(5000)}}`);
    writeFileSync(join(dir, 'deep-block.yaml'), `kind: Service\nspec:\n${Array.from({ length: 150 }, (_, i) => `${'  '.repeat(i + 1)}k:`).join('\n')} 1\n`);
    const started = Date.now();
    const r = waygate('render', dir);
    expect(Date.now() - started, 'render time').to.be.lessThan(20_000);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.match(/error: \S*bomb\.yaml \(document 1\): .*alias/);
    expect(r.stderr).to.match(/error: \S*huge\.yaml: too large: \d+ bytes, the limit is 2 MiB per file/);
    expect(r.stderr).to.match(/error: \S*deep\.json: nested deeper than 100 levels/);
    expect(r.stderr).to.match(/error: \S*deep-block\.yaml \(document 1\): nested deeper than 100 levels/);
    expect(r.stderr).to.not.match(/\n\s+at /); // no stack trace: reported, not crashed
    expect(r.stdout).to.contain('listen "');
    for (const f of ['bomb.yaml', 'huge.yaml', 'deep.json', 'deep-block.yaml']) rmSync(join(dir, f));
  });

  it('fails when a path does not exist, and prints usage without arguments', () => {
    const missing = waygate('render', join(dir, 'nope.yaml'));
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain('nope.yaml: cannot read: ENOENT');
    const usage = waygate('render');
    expect(usage.code).to.equal(2);
    expect(usage.stderr).to.contain('usage: waygate render');
  });
});

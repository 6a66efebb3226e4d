// Standalone mode: a YAML directory drives a real nginx through the agent. Edits apply,
// broken files are reported and change nothing else, deleted files take their routes away.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEcho, type EchoServer } from '../../examples/echo.ts';
import { defaultControllerName, supportedFeatures } from '../../operator/src/features.ts';
import { startStandalone, type Standalone } from '../../operator/src/modes/standalone.ts';
import { eventually, get } from '../support/http.ts';
import { captureLogger } from '../support/logs.ts';
import { tempStandalone, type TempStandalone } from '../support/standalone-run.ts';
import { appFiles, httpRoute, toYaml, writeFiles } from '../support/standalone-yaml.ts';

const ADDRESS = '127.0.0.91';
const PORT = 18191;

const routeYaml = (host: string, name = 'app') => toYaml([httpRoute({ name, hostnames: [host] })]);

// Hostile YAML: each must be refused on its own, naming the file.
const aliasBomb = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`)].join('\n') + '\n';
const hugeYaml = `apiVersion: v1\nkind: Service\nmetadata: {name: huge, namespace: web}\n${'# padding\n'.repeat(300_000)}`; // ~3 MiB
const deepFlowYaml = `apiVersion: v1\nkind: Service\nmetadata: {name: deep, namespace: web}\nspec: {x: ${'['.repeat(150)}${']'.repeat(150)}}\n`;
const deepBlockYaml = `apiVersion: v1\nkind: Service\nmetadata: {name: deep-block, namespace: web}\nspec:\n${Array.from({ length: 150 }, (_, i) => `${'  '.repeat(i + 1)}k:`).join('\n')} 1\n`;
const mode = (p: string) => statSync(p).mode & 0o777;

describe('standalone mode (YAML directory -> nginx)', function () {
  this.timeout(30_000);
  let run: TempStandalone;
  let dir: string;
  let runDir: string;
  const log = captureLogger();
  const status = (host: string) => get(ADDRESS, PORT, '/', { host }).then((r) => r.status, () => 0);

  before(async () => {
    run = tempStandalone('standalone');
    ({ dir, runDir } = run);
    const echo = await run.echo('app');
    writeFiles(dir, appFiles({ address: ADDRESS, port: PORT, echoPort: echo.port, host: 'one.example.com' }));
    await run.start(log.logger);
  });

  after(async () => {
    await run?.stop();
  });

  it('serves the routes of the directory', async () => {
    await eventually('one.example.com', () => status('one.example.com'), (s) => s === 200);
    expect(await status('other.example.com')).to.equal(404);
  });

  it('writes every object\'s status to status.yaml', async () => {
    const text = await eventually('status.yaml', async () => readFileSync(join(runDir, 'status.yaml'), 'utf8'), (t) => t.includes('reason: Programmed'));
    expect(text).to.contain('kind: HTTPRoute').and.contain('reason: Accepted');
  });

  it('applies an edit', async () => {
    writeFileSync(join(dir, 'route.yaml'), routeYaml('two.example.com'));
    await eventually('two.example.com', () => status('two.example.com'), (s) => s === 200);
    expect(await status('one.example.com')).to.equal(404);
  });

  it('reports a malformed file and an object the CRDs refuse, and keeps serving the rest', async () => {
    writeFileSync(join(dir, 'broken.yaml'), 'apiVersion: v1\nkind: [unclosed\n');
    writeFileSync(join(dir, 'refused.yaml'), routeYaml('UPPER.example.com', 'refused'));
    await eventually('the errors to be logged', async () => log.lines.join(''), (t) => t.includes('broken.yaml') && t.includes('refused.yaml'));
    const logged = log.lines.join('');
    expect(logged).to.match(/broken\.yaml \(document 1\): invalid YAML/);
    expect(logged).to.match(/refused\.yaml \(document 1\) HTTPRoute web\/refused: spec\.hostnames\[0\]/);
    expect(await status('two.example.com')).to.equal(200);
    unlinkSync(join(dir, 'broken.yaml'));
    unlinkSync(join(dir, 'refused.yaml'));
  });

  it('refuses alias bombs, huge files and deep nesting per file, naming the file, and keeps serving', async () => {
    writeFileSync(join(dir, 'bomb.yaml'), aliasBomb);
    writeFileSync(join(dir, 'huge.yaml'), hugeYaml);
    writeFileSync(join(dir, 'deep.yaml'), deepFlowYaml);
    writeFileSync(join(dir, 'deep-block.yaml'), deepBlockYaml);
    const names = ['bomb.yaml', 'huge.yaml', 'deep.yaml', 'deep-block.yaml'];
    await eventually('the refusals to be logged', async () => log.lines.join('\n'), (t) => names.every((n) => t.includes(`/${n}: `) || t.includes(`/${n} (document`)));
    const logged = log.lines.join('\n');
    expect(logged).to.match(/bomb\.yaml \(document 1\): .*alias/);
    expect(logged).to.match(/huge\.yaml: too large: \d+ bytes, the limit is 2 MiB per file/);
    expect(logged).to.match(/deep\.yaml: nested deeper than 100 levels/);
    expect(logged).to.match(/deep-block\.yaml \(document 1\): nested deeper than 100 levels/);
    expect(await status('two.example.com')).to.equal(200);
    // An edit after them still applies: the watcher survived.
    writeFileSync(join(dir, 'route.yaml'), routeYaml('three.example.com'));
    await eventually('three.example.com', () => status('three.example.com'), (s) => s === 200);
    writeFileSync(join(dir, 'route.yaml'), routeYaml('two.example.com'));
    await eventually('two.example.com', () => status('two.example.com'), (s) => s === 200);
    for (const n of names) unlinkSync(join(dir, n));
  });

  it('keeps the socket, the logs and the run directories private to their owner', async () => {
    await eventually('one request logged', () => status('two.example.com'), (s) => s === 200);
    const nginxDir = join(runDir, 'nginx');
    expect(mode(runDir).toString(8), 'run dir').to.equal('700');
    expect(mode(nginxDir).toString(8), 'nginx dir').to.equal('700');
    expect(mode(join(runDir, 'config')).toString(8), 'config dir').to.equal('700');
    for (const f of ['agent.sock', 'error.log', 'access.log']) expect(mode(join(nginxDir, f)).toString(8), f).to.equal('600');
  });

  it('removes the routes of a deleted file', async () => {
    unlinkSync(join(dir, 'route.yaml'));
    await eventually('two.example.com gone', () => status('two.example.com'), (s) => s === 404);
  });
});

/** The nginx master recorded in a run dir and its workers, for checks that nothing is left behind. */
function nginxProcesses(runDir: string): number[] {
  const pidFile = join(runDir, 'nginx', 'nginx.pid');
  const master = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
  if (!master) return [];
  return [master, ...readdirSync('/proc').filter((e) => /^\d+$/.test(e)).filter((e) => {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === master;
    } catch {
      return false;
    }
  }).map(Number)];
}

const alive = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
};

describe('standalone run directory', function () {
  this.timeout(30_000);
  const ADDR = '127.0.0.92';
  const log = captureLogger();
  let dir: string;
  let scratch: string;
  let echo: EchoServer;
  let standalone: Standalone | undefined;
  const savedXdg = process.env.XDG_RUNTIME_DIR;
  const start = (runDir?: string) => startStandalone({ dir, runDir, controllerName: defaultControllerName, supportedFeatures, logger: log.logger });

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'waygate-rundir-test-'));
    dir = join(scratch, 'yaml');
    mkdirSync(dir);
    echo = await startEcho('fresh');
    writeFiles(dir, appFiles({ address: ADDR, port: PORT, echoPort: echo.port, host: 'fresh.example.com' }));
  });

  afterEach(async () => {
    await standalone?.stop();
    standalone = undefined;
    if (savedXdg === undefined) delete process.env.XDG_RUNTIME_DIR;
    else process.env.XDG_RUNTIME_DIR = savedXdg;
  });

  after(async () => {
    await echo?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('defaults to $XDG_RUNTIME_DIR/waygate (0700) when XDG_RUNTIME_DIR is private', async () => {
    const xdg = mkdtempSync(join(scratch, 'xdg-'));
    process.env.XDG_RUNTIME_DIR = xdg;
    standalone = await start();
    expect(standalone.runDir).to.equal(join(xdg, 'waygate'));
    expect(mode(standalone.runDir).toString(8)).to.equal('700');
    expect(statSync(standalone.runDir).uid).to.equal(process.getuid!());
  });

  it('without a private XDG_RUNTIME_DIR, defaults to a new mkdtemp directory (0700), removed on stop', async () => {
    const xdg = mkdtempSync(join(scratch, 'xdg-open-'));
    chmodSync(xdg, 0o777);
    process.env.XDG_RUNTIME_DIR = xdg;
    standalone = await start();
    const runDir = standalone.runDir;
    expect(runDir.startsWith(join(tmpdir(), 'waygate-standalone-'))).to.equal(true);
    expect(runDir).to.not.equal(join(tmpdir(), 'waygate-standalone'));
    expect(mode(runDir).toString(8)).to.equal('700');
    expect(existsSync(join(xdg, 'waygate'))).to.equal(false);
    await standalone.stop();
    standalone = undefined;
    expect(existsSync(runDir)).to.equal(false);
  });

  it('refuses a given run directory that is group/world-writable, a symlink, or owned by another user, before starting nginx', async () => {
    const writable = join(scratch, 'writable');
    mkdirSync(writable, { mode: 0o700 });
    chmodSync(writable, 0o777);
    const target = join(scratch, 'target');
    mkdirSync(target, { mode: 0o700 });
    const link = join(scratch, 'link');
    symlinkSync(target, link);
    const foreign = join(scratch, 'foreign');
    mkdirSync(foreign, { mode: 0o700 });
    chownSync(foreign, 65534, 65534);
    const openParent = join(scratch, 'open-parent'); // others may rename what is inside (no sticky bit)
    mkdirSync(join(openParent, 'run'), { recursive: true, mode: 0o700 });
    chmodSync(openParent, 0o777);
    const cases: [string, RegExp][] = [
      [writable, /writable by group or others \(mode 0777\)/],
      [join(openParent, 'run'), /is inside \S+open-parent, writable by group or others \(mode 0777\)/],
      [link, /is a symbolic link/],
      [foreign, /owned by uid 65534, not by uid \d+/],
    ];
    for (const [runDir, message] of cases) {
      const err = await start(runDir).then((s) => { standalone = s; return undefined; }, (e: Error) => e);
      expect(err?.message, runDir).to.match(message).and.to.contain(runDir);
      for (const d of [runDir, target]) expect(existsSync(join(d, 'nginx', 'nginx.pid')), `nginx started in ${d}`).to.equal(false);
    }
  });

  it('refuses a run directory another standalone uses', async () => {
    const runDir = join(scratch, 'shared');
    standalone = await start(runDir);
    const err = await start(runDir).then(async (s) => { await s.stop(); return undefined; }, (e: Error) => e);
    expect(err?.message).to.match(new RegExp(`run directory ${runDir} is in use by process ${process.pid}`));
    // The first one still serves (its nginx was not stopped, its versions not cleared).
    await eventually('the first one serving', () => get(ADDR, PORT, '/', { host: 'fresh.example.com' }).then((r) => r.backend, () => undefined), (b) => b === 'fresh');
  });

  it('never serves a version a previous run left in the run directory', async () => {
    // A previous run (or someone who could write there) left version 7, serving "planted" on the same address.
    const runDir = join(scratch, 'reused');
    const planted = join(runDir, 'config', 'versions', '7');
    mkdirSync(planted, { recursive: true, mode: 0o700 });
    writeFileSync(join(planted, 'http.conf'), `server {\n    listen ${ADDR}:${PORT};\n    location / { return 200 "planted"; }\n}\n`);
    writeFileSync(join(planted, 'stream.conf'), '');
    writeFileSync(join(planted, 'meta.json'), JSON.stringify({ version: '7', hash: 'planted', sources: [] }));
    const seen: string[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const r = await get(ADDR, PORT, '/', { host: 'fresh.example.com', timeoutMs: 1000 }).catch(() => undefined);
        if (r) seen.push(r.status === 200 ? (r.backend ?? r.body) : String(r.status));
        await new Promise((res) => setTimeout(res, 2));
      }
    })();
    try {
      standalone = await start(runDir);
      const first = await get(ADDR, PORT, '/', { host: 'fresh.example.com' }).catch(() => undefined);
      if (first) seen.push(first.status === 200 ? (first.backend ?? first.body) : String(first.status));
      await eventually('the new inputs served', () => get(ADDR, PORT, '/', { host: 'fresh.example.com' }).then((r) => r.backend, () => undefined), (b) => b === 'fresh');
    } finally {
      polling = false;
      await poller;
    }
    expect(seen.length).to.be.greaterThan(0);
    expect(seen.filter((s) => !['fresh', '404', '503'].includes(s)), `responses: ${[...new Set(seen)].join(', ')}`).to.deep.equal([]);
  });
});

describe('standalone process: no nginx left behind', function () {
  this.timeout(60_000);
  const ADDR = '127.0.0.93';
  const root = join(import.meta.dirname, '..', '..');
  let scratch: string;
  let dir: string;
  let echo: EchoServer;
  const children: ChildProcess[] = [];
  const runDirs: string[] = [];

  function node(args: string[], env: NodeJS.ProcessEnv = process.env): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code, signal) => r(code ?? (signal ? -1 : null))));
    return { child, output: () => out, exited };
  }

  const serving = () => get(ADDR, PORT, '/', { host: 'proc.example.com' }).then((r) => r.backend, () => undefined);

  async function expectNothingLeft(runDir: string, pids: number[]): Promise<void> {
    expect(pids.length, 'nginx processes seen while running').to.be.greaterThan(1);
    await eventually('nginx processes gone', async () => pids.filter(alive), (left) => left.length === 0, 5000);
    expect(await serving()).to.equal(undefined);
  }

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'waygate-standalone-proc-'));
    dir = join(scratch, 'yaml');
    mkdirSync(dir);
    echo = await startEcho('proc');
    writeFiles(dir, { ...appFiles({ address: ADDR, port: PORT, echoPort: echo.port, host: 'proc.example.com' }), 'bomb.yaml': aliasBomb });
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const d of runDirs) for (const p of nginxProcesses(d)) if (alive(p)) process.kill(p, 'SIGKILL');
    await echo?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`waygate standalone (with an alias bomb among its files) serves, then stops nginx on ${signal}`, async () => {
      const runDir = join(scratch, `run-${signal}`);
      runDirs.push(runDir);
      const p = node(['operator/src/main.ts', 'standalone', dir, '--run-dir', runDir]);
      await eventually('serving', serving, (b) => b === 'proc', 20_000).catch((e: Error) => { throw new Error(`${e.message}\n${p.output()}`); });
      expect(p.output()).to.match(/bomb\.yaml \(document 1\): .*alias/);
      const pids = nginxProcesses(runDir);
      p.child.kill(signal);
      expect(await p.exited, p.output()).to.equal(0);
      await expectNothingLeft(runDir, pids);
    });
  }

  it('stops nginx on SIGTERM received while starting', async () => {
    const runDir = join(scratch, 'run-early');
    runDirs.push(runDir);
    const p = node(['operator/src/main.ts', 'standalone', dir, '--run-dir', runDir]);
    let pids: number[] = [];
    await eventually('nginx started', async () => (pids = nginxProcesses(runDir)), (ps) => ps.length > 1, 20_000, 2);
    p.child.kill('SIGTERM');
    await p.exited;
    await eventually('nginx processes gone', async () => pids.filter(alive), (left) => left.length === 0, 5000).catch((e: Error) => { throw new Error(`${e.message}\n${p.output()}`); });
  });

  it('stops nginx when the process dies of an uncaught error', async () => {
    const runDir = join(scratch, 'run-crash');
    runDirs.push(runDir);
    const script = `
      const { startStandalone } = await import(${JSON.stringify(join(root, 'operator/src/modes/standalone.ts'))});
      const { createLogger } = await import(${JSON.stringify(join(root, 'operator/src/log.ts'))});
      await startStandalone({ dir: ${JSON.stringify(dir)}, runDir: ${JSON.stringify(runDir)}, controllerName: ${JSON.stringify(defaultControllerName)}, supportedFeatures: [], logger: createLogger({ level: 'warn' }) });
      process.stdout.write('started\\n');
      setTimeout(() => { throw new Error('boom'); }, 1000);`;
    const p = node(['--input-type=module', '-e', script]);
    let pids: number[] = [];
    await eventually('started', async () => p.output(), (o) => o.includes('started'), 20_000).catch((e: Error) => { throw new Error(`${e.message}\n${p.output()}`); });
    pids = nginxProcesses(runDir);
    expect(await p.exited).to.not.equal(0);
    expect(p.output()).to.contain('boom');
    await expectNothingLeft(runDir, pids);
  });
});

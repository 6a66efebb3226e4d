// The nginx agent against a real nginx: versions written into a config root are tested,
// applied with a verified reload, rejected without disturbing the serving config, coalesced.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import { startAgent, type Agent, type Verdict } from '../../nginx/agent/agent.ts';
import { readVerdict } from '../../nginx/agent/verdict.ts';
import type { SourceRange } from '../../nginx/agent/versions.ts';
import { ConfigWriter } from '../../operator/src/apply/writer.ts';
import { freePort } from '../cluster/processes.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


function httpGet(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET 127.0.0.1:${port} timed out`)));
    req.on('error', reject);
  });
}

function tcpRead(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const s = connect({ host: '127.0.0.1', port }, () => s.end());
    s.setEncoding('utf8').on('data', (d: string) => (data += d));
    s.setTimeout(3000, () => s.destroy(new Error('tcp read timed out')));
    s.on('close', () => resolve(data));
    s.on('error', reject);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Workers of a master that accept connections (not those shutting down after a reload). */
function servingWorkerPids(pid: number): number[] {
  return childPids(pid).filter((p) => {
    try {
      const title = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      return title.includes('worker process') && !title.includes('shutting down');
    } catch {
      return false;
    }
  });
}

/** Pids whose parent is `pid`, from /proc. */
function childPids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number)
    .sort((a, b) => a - b);
}

interface VersionContent {
  http?: string;
  stream?: string;
  sources?: SourceRange[];
}

/** Writes a version the way the operator does: into versions/.tmp-*, then renamed into place. */
function writeVersion(configRoot: string, version: number, c: VersionContent): string {
  const tmp = join(configRoot, 'versions', `.tmp-${version}-${process.hrtime.bigint()}`);
  mkdirSync(tmp, { recursive: true });
  const http = c.http ?? '';
  const stream = c.stream ?? '';
  writeFileSync(join(tmp, 'http.conf'), http);
  writeFileSync(join(tmp, 'stream.conf'), stream);
  const hash = createHash('sha256').update(http).update('\0').update(stream).digest('hex');
  writeFileSync(join(tmp, 'meta.json'), JSON.stringify({ version: String(version), hash, sources: c.sources ?? [] }));
  renameSync(tmp, join(configRoot, 'versions', String(version)));
  return hash;
}

const serverReturning = (port: number, text: string) => `server {\n    listen 127.0.0.1:${port};\n    location / { return 200 "${text}"; }\n}\n`;

describe('nginx agent (real nginx)', function () {
  this.timeout(30_000);

  let root: string;
  let configRoot: string;
  let runDir: string;
  let agent: Agent | undefined;
  let port: number;
  const verdicts: Verdict[] = [];
  const logLines: string[] = [];
  const logger = winston.createLogger({
    level: 'debug',
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [
      new winston.transports.Stream({
        stream: new Writable({
          write(chunk: Buffer, _enc, done) {
            logLines.push(chunk.toString().trim());
            done();
          },
        }),
      }),
    ],
  });

  /** Waits (without asking the agent to rescan: the watcher must see it) for the verdict of `version`. */
  async function verdictFor(version: number, timeoutMs = 15_000): Promise<Verdict> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = verdicts.find((x) => x.version === String(version));
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`no verdict for version ${version}; verdicts: ${JSON.stringify(verdicts.map((x) => x.version))}`);
      await sleep(10);
    }
  }

  const masterPid = () => Number(readFileSync(join(runDir, 'nginx.pid'), 'utf8').trim());

  async function newAgent(): Promise<Agent> {
    const a = await startAgent({ configRoot, runDir, workerProcesses: 2, logger, verifyTimeoutMs: 8000, rescanIntervalMs: 0 });
    a.onVerdict((v) => verdicts.push(v));
    return a;
  }

  before(async function () {
    // The test fixture installs nginx (test/cluster/nginx.ts ensureNginx): missing, it is a failure, not a skip.
    expect(existsSync('/usr/sbin/nginx'), 'the agent runs /usr/sbin/nginx').to.equal(true);
    root = mkdtempSync(join(tmpdir(), 'waygate-agent-'));
    chmodSync(root, 0o755);
    configRoot = join(root, 'config');
    runDir = join(root, 'run');
    port = await freePort();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.error(`agent log:\n${logLines.slice(-40).join('\n')}`);
  });

  after(async () => {
    await agent?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('starts nginx with an empty config when there is no version yet', async () => {
    agent = await newAgent();
    expect(agent.live).to.equal(undefined);
    const v = readVerdict(configRoot);
    expect(v).to.include({ version: '', ok: true, live: '' });
    expect(alive(masterPid())).to.equal(true);
  });

  it('(1) applies the first version, written as .tmp then renamed, exactly once', async () => {
    writeVersion(configRoot, 1, { http: serverReturning(port, 'v1') });
    const v = await verdictFor(1);
    expect(v).to.include({ version: '1', ok: true, reloaded: true, live: '1' });
    expect(v.error).to.equal(undefined);
    expect((await httpGet(port)).body).to.equal('v1');
    await sleep(300); // late watcher events (the renamed dir, its meta.json) must not judge it again
    await agent!.settled();
    expect(verdicts.filter((x) => x.version === '1')).to.have.length(1);
    expect(readVerdict(configRoot)).to.deep.equal(v);
    expect(agent!.live).to.equal('1');
  });

  it('(2) applies a new version with a verified reload', async () => {
    writeVersion(configRoot, 2, { http: serverReturning(port, 'v2') });
    const v = await verdictFor(2);
    expect(v).to.include({ ok: true, reloaded: true, live: '2' });
    expect(v.durationMs).to.be.a('number').and.to.be.lessThan(8000);
    expect((await httpGet(port)).body).to.equal('v2');
  });

  it('(3) rejects a broken version, names file, line and object, and keeps serving the last good one', async () => {
    const good = serverReturning(port, 'v3');
    const bad = ['server {', '    listen 127.0.0.1:1;', '    unknown_directive x;', '}', ''].join('\n');
    const goodLines = good.split('\n').length - 1; // 4
    writeVersion(configRoot, 3, {
      http: good + bad,
      sources: [
        { file: 'http.conf', from: 1, to: goodLines, object: 'HTTPRoute/team-a/web' },
        { file: 'http.conf', from: goodLines + 1, to: goodLines + 4, object: 'HTTPRoute/team-a/bad' },
      ],
    });
    const v = await verdictFor(3);
    expect(v).to.include({ ok: false, reloaded: false, file: 'http.conf', line: goodLines + 3, object: 'HTTPRoute/team-a/bad', live: '2' });
    expect(v.error).to.match(/unknown directive "unknown_directive"/);
    expect(agent!.live).to.equal('2');
    expect((await httpGet(port)).body).to.equal('v2');
    expect(readVerdict(configRoot)).to.include({ version: '3', ok: false });
  });

  it('(4) applies a good version after a failure', async () => {
    writeVersion(configRoot, 4, { http: serverReturning(port, 'v4') });
    const v = await verdictFor(4);
    expect(v).to.include({ ok: true, reloaded: true, live: '4' });
    expect((await httpGet(port)).body).to.equal('v4');
  });

  it('(5) adopts a version with the live hash without reloading', async () => {
    const master = masterPid();
    const workers = servingWorkerPids(master);
    expect(workers).to.have.length(2);
    writeVersion(configRoot, 5, { http: serverReturning(port, 'v4') });
    const v = await verdictFor(5);
    expect(v).to.include({ ok: true, reloaded: false, live: '5' });
    expect(agent!.live).to.equal('5');
    expect(masterPid()).to.equal(master);
    expect(servingWorkerPids(master)).to.deep.equal(workers);
    expect((await httpGet(port)).body).to.equal('v4');
  });

  it('(6) coalesces a burst of 20 versions: ends on the highest with few reloads', async () => {
    const first = 6;
    const last = first + 19;
    for (let n = first; n <= last; n++) writeVersion(configRoot, n, { http: serverReturning(port, `v${n}`) });
    const v = await verdictFor(last);
    expect(v).to.include({ ok: true, live: String(last) });
    await agent!.settled();
    const burst = verdicts.filter((x) => Number(x.version) >= first && Number(x.version) <= last);
    const reloads = burst.filter((x) => x.reloaded).length;
    console.log(`      burst of 20 versions: ${burst.length} verdict(s), ${reloads} reload(s): ${burst.map((x) => x.version).join(', ')}`);
    expect(reloads).to.be.lessThan(5);
    expect(burst.every((x) => x.ok)).to.equal(true);
    expect((await httpGet(port)).body).to.equal(`v${last}`);
    // Pruned: the live one (= newest) and 3 others remain.
    const dirs = readdirSync(join(configRoot, 'versions')).filter((d) => /^\d+$/.test(d));
    expect(dirs.length).to.be.at.most(5);
    expect(dirs).to.include(String(last));
  });

  it('(7) serves stream.conf (TCP)', async () => {
    const tcpPort = await freePort();
    writeVersion(configRoot, 30, {
      http: serverReturning(port, 'v30'),
      stream: `server {\n    listen 127.0.0.1:${tcpPort};\n    return "tcp-ok\\n";\n}\n`,
    });
    expect(await verdictFor(30)).to.include({ ok: true, reloaded: true });
    expect(await tcpRead(tcpPort)).to.equal('tcp-ok\n');
    expect((await httpGet(port)).body).to.equal('v30');
  });

  it('(8) reports a bind failure on reload, keeps the old config serving, then applies the next good version', async () => {
    const held: Server = createServer();
    const heldPort = await freePort();
    await new Promise<void>((r) => held.listen(heldPort, '127.0.0.1', () => r()));
    try {
      writeVersion(configRoot, 31, { http: serverReturning(port, 'v31') + serverReturning(heldPort, 'held') });
      const v = await verdictFor(31);
      expect(v).to.include({ ok: false, reloaded: false, live: '30' });
      expect(v.error).to.match(/^reload not confirmed/);
      expect(v.error).to.match(/bind\(\) to 127\.0\.0\.1:\d+ failed \(98: Address already in use\)/);
      expect((await httpGet(port)).body).to.equal('v30');
      expect(readFileSync(join(runDir, 'nginx.conf'), 'utf8')).to.include('/versions/30/http.conf');
    } finally {
      await new Promise((r) => held.close(r));
    }
    writeVersion(configRoot, 32, { http: serverReturning(port, 'v32') });
    expect(await verdictFor(32)).to.include({ ok: true, reloaded: true, live: '32' });
    expect((await httpGet(port)).body).to.equal('v32');
  });

  it('(9) stop() leaves no nginx process', async () => {
    const master = masterPid();
    const workers = childPids(master);
    expect(workers.length).to.be.greaterThan(0);
    await agent!.stop();
    agent = undefined;
    expect(alive(master)).to.equal(false);
    for (const w of workers) expect(alive(w), `worker ${w}`).to.equal(false);
    expect(existsSync(join(runDir, 'agent.sock'))).to.equal(false);
    await httpGet(port).then(
      () => expect.fail('nginx still answers'),
      (err: NodeJS.ErrnoException) => expect(err.code).to.equal('ECONNREFUSED'),
    );
  });

  it('on start, serves the newest version that passes nginx -t and reports the broken newest', async () => {
    writeVersion(configRoot, 33, { http: 'server { listen 127.0.0.1:1; bogus_directive; }\n' });
    const before = verdicts.length;
    agent = await newAgent();
    expect(agent.live).to.equal('32');
    expect((await httpGet(port)).body).to.equal('v32');
    const v = readVerdict(configRoot)!;
    expect(v).to.include({ version: '33', ok: false, file: 'http.conf', line: 1, live: '32' });
    expect(verdicts.length).to.equal(before); // the start verdict was written before onVerdict subscribed
  });

  it('restarts nginx when the master dies', async () => {
    const master = masterPid();
    process.kill(master, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    for (;;) {
      const pid = existsSync(join(runDir, 'nginx.pid')) ? Number(readFileSync(join(runDir, 'nginx.pid'), 'utf8').trim()) : 0;
      if (pid && pid !== master && alive(pid)) {
        const r = await httpGet(port).catch(() => undefined);
        if (r?.body === 'v32') break;
      }
      if (Date.now() > deadline) throw new Error('nginx was not restarted');
      await sleep(50);
    }
    writeVersion(configRoot, 34, { http: serverReturning(port, 'v34') });
    expect(await verdictFor(34)).to.include({ ok: true, reloaded: true, live: '34' });
    expect((await httpGet(port)).body).to.equal('v34');
  });

  it('restarts nginx after a hard kill (master and workers) that left its unix sockets behind', async () => {
    // A local hop (HTTPS front, gRPC/h2c front, mirror) is a unix socket nginx listens on;
    // SIGKILL/OOM leaves the file, and nginx cannot bind a socket whose file exists.
    const sock = join(agent!.socketDir, 'wg-h-killtest.sock');
    writeVersion(configRoot, 35, { http: `${serverReturning(port, 'v35')}server {\n    listen unix:${sock};\n    location / { return 200 "hop"; }\n}\n` });
    expect(await verdictFor(35)).to.include({ ok: true, live: '35' });
    const master = masterPid();
    // The master first: a master that sees a worker die starts another, which would keep the port.
    const workers = childPids(master);
    process.kill(master, 'SIGKILL');
    for (const pid of workers) process.kill(pid, 'SIGKILL');
    expect(existsSync(sock), 'the killed nginx left its socket file').to.equal(true);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const pid = existsSync(join(runDir, 'nginx.pid')) ? Number(readFileSync(join(runDir, 'nginx.pid'), 'utf8').trim()) : 0;
      const r = pid && pid !== master && alive(pid) ? await httpGet(port).catch(() => undefined) : undefined;
      if (r?.body === 'v35') break;
      if (Date.now() > deadline) throw new Error(`nginx was not restarted after the hard kill; agent log:\n${logLines.slice(-8).join('\n')}`);
      await sleep(50);
    }
  });

  it('coalesces versions arriving over 400 ms (one every 20 ms) without starving', async () => {
    const first = 40;
    const last = first + 19;
    for (let n = first; n <= last; n++) {
      writeVersion(configRoot, n, { http: serverReturning(port, `v${n}`) });
      await sleep(20);
    }
    expect(await verdictFor(last)).to.include({ ok: true, live: String(last) });
    await agent!.settled();
    const burst = verdicts.filter((x) => Number(x.version) >= first && Number(x.version) <= last);
    console.log(`      spread burst of 20 versions: ${burst.filter((x) => x.reloaded).length} reload(s): ${burst.map((x) => x.version).join(', ')}`);
    expect(burst.filter((x) => x.reloaded).length).to.be.lessThan(10);
    expect((await httpGet(port)).body).to.equal(`v${last}`);
  });

  it('on start, skips a newest version that cannot bind for the previous one', async () => {
    await agent!.stop();
    agent = undefined;
    const held: Server = createServer();
    const heldPort = await freePort();
    await new Promise<void>((r) => held.listen(heldPort, '127.0.0.1', () => r()));
    try {
      writeVersion(configRoot, 60, { http: serverReturning(port, 'v60') + serverReturning(heldPort, 'held') });
      agent = await newAgent();
      expect(agent.live).to.equal('59');
      expect((await httpGet(port)).body).to.equal('v59');
      const v = readVerdict(configRoot)!;
      expect(v).to.include({ version: '60', ok: false, live: '59' });
      expect(v.error).to.match(/Address already in use/);
    } finally {
      await new Promise((r) => held.close(r));
    }
    writeVersion(configRoot, 61, { http: serverReturning(port, 'v61') });
    expect(await verdictFor(61)).to.include({ ok: true, reloaded: true, live: '61' });
    expect((await httpGet(port)).body).to.equal('v61');
  });
});

describe('nginx agent: private files, version numbers (real nginx)', function () {
  this.timeout(30_000);
  let root: string;
  let agent: Agent | undefined;
  let backend: import('node:http').Server | undefined;
  const modeOf = (p: string) => (statSync(p).mode & 0o777).toString(8);
  const quiet = winston.createLogger({ level: 'error', transports: [new winston.transports.Stream({ stream: new Writable({ write: (_c, _e, done) => done() }) })] });

  before(async function () {
    // The test fixture installs nginx (test/cluster/nginx.ts ensureNginx): missing, it is a failure, not a skip.
    expect(existsSync('/usr/sbin/nginx'), 'the agent runs /usr/sbin/nginx').to.equal(true);
    root = mkdtempSync(join(tmpdir(), 'waygate-agent-private-'));
  });

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
  });

  after(async () => {
    if (backend) await new Promise((r) => backend!.close(r));
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('keeps its run dir 0700 and the socket and logs 0600, also after a reload and a restart of nginx', async function () {
    this.timeout(90_000);
    const configRoot = join(root, 'modes-config');
    const runDir = join(root, 'modes-run');
    mkdirSync(runDir, { mode: 0o755 });
    writeFileSync(join(runDir, 'error.log'), 'old\n', { mode: 0o644 }); // a previous run's log
    chmodSync(join(runDir, 'error.log'), 0o644);
    const port = await freePort();
    agent = await startAgent({ configRoot, runDir, logger: quiet, rescanIntervalMs: 0 });
    const check = (when: string) => {
      expect(modeOf(runDir), `run dir ${when}`).to.equal('700');
      for (const f of ['agent.sock', 'error.log', 'access.log']) expect(modeOf(join(runDir, f)), `${f} ${when}`).to.equal('600');
    };
    check('after start');
    const versions: Verdict[] = [];
    agent.onVerdict((v) => versions.push(v));
    writeVersion(configRoot, 1, { http: serverReturning(port, 'v1') });
    for (let i = 0; i < 300 && !versions.some((v) => v.version === '1'); i++) await sleep(20);
    expect(versions.find((v) => v.version === '1')).to.include({ ok: true, reloaded: true });
    check('after a reload');
    const master = Number(readFileSync(join(runDir, 'nginx.pid'), 'utf8').trim());
    rmSync(join(runDir, 'access.log'));
    process.kill(master, 'SIGTERM');
    // Polls up to 30 s: a restart attempt that finds the port still held backs off and retries.
    for (let i = 0; i < 1500; i++) {
      const body = await httpGet(port).then((r) => r.body, () => '');
      const pid = existsSync(join(runDir, 'nginx.pid')) ? Number(readFileSync(join(runDir, 'nginx.pid'), 'utf8').trim() || 0) : 0;
      if (body === 'v1' && pid > 0 && pid !== master) break; // a new master, not the old one's last worker
      await sleep(20);
    }
    expect((await httpGet(port)).body).to.equal('v1');
    await agent.settled(); // the restart is confirmed (socket answered) before the agent protects it
    check('after nginx was restarted');
  });

  it('refuses a run dir that others can write to', async () => {
    const runDir = join(root, 'open-run');
    mkdirSync(runDir);
    chmodSync(runDir, 0o777);
    const err = await startAgent({ configRoot: join(root, 'open-config'), runDir, logger: quiet }).then(
      (a) => { agent = a; return undefined; },
      (e: Error) => e,
    );
    expect(err?.message).to.match(/writable by group or others \(mode 0777\)/);
    expect(existsSync(join(runDir, 'nginx.pid'))).to.equal(false);
  });

  it('proxies a request body larger than the buffers (workers can use the temp directories)', async () => {
    const configRoot = join(root, 'body-config');
    const runDir = join(root, 'body-run'); // inside a 0700 directory: workers (nobody when root) cannot enter it
    const { createServer: createHttpServer, request } = await import('node:http');
    backend = createHttpServer((req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => (n += d.length)).on('end', () => res.end(String(n)));
    });
    const backendPort = await freePort();
    await new Promise<void>((r) => backend!.listen(backendPort, '127.0.0.1', () => r()));
    const port = await freePort();
    agent = await startAgent({ configRoot, runDir, logger: quiet, rescanIntervalMs: 0 });
    writeVersion(configRoot, 1, {
      http: `server {\n    listen 127.0.0.1:${port};\n    client_body_buffer_size 1k;\n    client_max_body_size 10m;\n    location / { proxy_pass http://127.0.0.1:${backendPort}; }\n}\n`,
    });
    await agent.settled();
    expect(agent.live).to.equal('1');
    const body = Buffer.alloc(300_000, 'x');
    const r = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent: false, headers: { 'content-length': body.length } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(r).to.deep.equal({ status: 200, text: String(body.length) });
  });

  it('continues after a planted huge version number without wrapping or colliding', async () => {
    const configRoot = join(root, 'big-config');
    const runDir = join(root, 'big-run');
    const port = await freePort();
    writeVersion(configRoot, 1, { http: serverReturning(port, 'v1') });
    // Planted (incomplete: no meta.json, so the agent never serves it), beyond 2^53 and 2^64.
    mkdirSync(join(configRoot, 'versions', '99999999999999999999'));
    agent = await startAgent({ configRoot, runDir, logger: quiet, rescanIntervalMs: 0 });
    const writer = new ConfigWriter(configRoot);
    const rendered = (text: string) => {
      const http = serverReturning(port, text);
      return { files: { 'http.conf': http, 'stream.conf': '' }, certificates: [], sources: [], hash: createHash('sha256').update(text).digest('hex') };
    };
    const a = writer.write(rendered('a'));
    const b = writer.write(rendered('b'));
    expect([a, b]).to.deep.equal(['100000000000000000000', '100000000000000000001']);
    await agent.settled();
    expect(agent.live).to.equal(b);
    expect((await httpGet(port)).body).to.equal('b');
    expect(readVerdict(configRoot)).to.include({ version: b, ok: true, live: b });
  });
});

// Leader election end to end on the test bed: operator replicas as processes (the real CLI,
// `node operator/src/main.ts operator`), each with its own config root, against one API
// server. One leads and alone writes status; the others render but never write. A leader
// killed with SIGKILL (no release) is replaced once its lease expires; a leader stopped
// with SIGTERM releases the lease and is replaced on the follower's next attempt.
// Short durations through the flags: lease 4 s, renew deadline 3 s, retry period 1 s.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getJson } from '../../operator/src/sources/rest.ts';
import { repoRoot } from '../cluster/paths.ts';
import { testbed } from '../testbed.ts';
import { testbedKubeConfig } from '../support/proxy.ts';
import { apply, namespaceObject, remove } from '../support/kube.ts';

const CONTROLLER = 'waygate.dev/e2e-leader';
const CLASS = 'waygate-e2e-leader';
const NS = 'e2e-leader';
const LEASE = 'waygate-e2e';
const G = 'gateway.networking.k8s.io';
const LEASE_S = 4;
const RENEW_S = 3;
const RETRY_S = 1;

interface Replica {
  id: string;
  proc: ChildProcess;
  configRoot: string;
  logFile: string;
  exited: Promise<number | null>;
}

const route = (name: string) => ({
  apiVersion: `${G}/v1`, kind: 'HTTPRoute', metadata: { name, namespace: NS },
  spec: { parentRefs: [{ name: 'gw' }], hostnames: [`${name}.example.com`], rules: [{ backendRefs: [{ name: 'nothing', port: 80 }] }] },
});

/** The log lines (JSON) of a replica. */
function logLines(r: Replica): Array<{ message: string; timestamp: string; [k: string]: unknown }> {
  if (!existsSync(r.logFile)) return [];
  return readFileSync(r.logFile, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

/** Status writes a replica made (its "status written" debug lines with written > 0). */
const statusWrites = (r: Replica) => logLines(r).filter((l) => l.message === 'status written' && Number(l.written) > 0).length;

/** Whether any configuration version the replica rendered mentions `text`. */
function rendered(r: Replica, text: string): boolean {
  const walk = (dir: string): boolean => readdirSync(dir).some((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : readFileSync(p, 'utf8').includes(text);
  });
  try {
    return walk(join(r.configRoot, 'versions'));
  } catch {
    return false; // not written yet, or a version renamed while we read: ask again
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

describe('leader election end to end (operator processes on the test bed)', function () {
  this.timeout(90_000);
  let dir: string;
  const replicas: Replica[] = [];
  const kc = () => testbedKubeConfig();

  const lease = () => getJson<any>(kc(), `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${LEASE}`).catch(() => undefined);
  const holder = async () => (await lease())?.spec?.holderIdentity as string | undefined;
  /** Our Accepted condition on the route, once it is True. */
  const accepted = async (name: string) => {
    const r = await getJson<any>(kc(), `/apis/${G}/v1/namespaces/${NS}/httproutes/${name}`).catch(() => undefined);
    const p = (r?.status?.parents ?? []).find((x: any) => x.controllerName === CONTROLLER);
    return p?.conditions?.some((c: any) => c.type === 'Accepted' && c.status === 'True') ? r : undefined;
  };

  function startReplica(id: string): Replica {
    const configRoot = join(dir, id, 'config');
    const logFile = join(dir, `${id}.log`);
    const proc = spawn(process.execPath, [
      join(repoRoot, 'operator', 'src', 'main.ts'), 'operator',
      '--config-root', configRoot,
      '--controller-name', CONTROLLER,
      '--gateway-addresses', 'loopback',
      '--leader-election-namespace', NS,
      '--leader-election-id', LEASE,
      '--leader-election-identity', id,
      '--leader-election-lease-duration', `${LEASE_S}s`,
      '--leader-election-renew-deadline', `${RENEW_S}s`,
      '--leader-election-retry-period', `${RETRY_S}s`,
    ], { env: { ...process.env, KUBECONFIG: testbed().kubeconfig, WAYGATE_LOG_LEVEL: 'debug' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = createWriteStream(logFile);
    proc.stdout!.pipe(out, { end: false });
    proc.stderr!.pipe(out, { end: false });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const r = { id, proc, configRoot, logFile, exited };
    replicas.push(r);
    return r;
  }

  const ready = (r: Replica) => until(`${r.id} to watch the cluster`, () => {
    if (r.proc.exitCode !== null) throw new Error(`${r.id} exited (${r.proc.exitCode}); log: ${readFileSync(r.logFile, 'utf8').slice(-2000)}`);
    return logLines(r).some((l) => l.message.startsWith('watching')) ? true : undefined;
  }, 30_000);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'waygate-e2e-leader-'));
    await apply(
      namespaceObject(NS),
      { apiVersion: `${G}/v1`, kind: 'GatewayClass', metadata: { name: CLASS }, spec: { controllerName: CONTROLLER } },
      { apiVersion: `${G}/v1`, kind: 'Gateway', metadata: { name: 'gw', namespace: NS }, spec: { gatewayClassName: CLASS, listeners: [{ name: 'http', protocol: 'HTTP', port: 18090 }] } },
    );
  });

  after(async () => {
    for (const r of replicas) if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGKILL');
    await Promise.all(replicas.map((r) => r.exited));
    await remove('namespace', undefined, NS).catch(() => {});
    await remove('gatewayclass', undefined, CLASS).catch(() => {});
    if (process.env.WAYGATE_KEEP_E2E_LOGS) console.error(`leader election logs kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });

  let a: Replica;
  let b: Replica;

  it('elects one replica; it writes status, the follower renders the same routes and writes none', async () => {
    a = startReplica('a');
    await ready(a);
    await until('a to hold the lease', async () => ((await holder()) === 'a' ? true : undefined));
    b = startReplica('b');
    await ready(b);
    await apply(route('r1'));
    await until('r1 Accepted', () => accepted('r1'));
    await until('b to render r1', () => (rendered(b, 'r1.example.com') ? true : undefined));
    expect(await holder()).to.equal('a');
    await until('a to log a status write', () => (statusWrites(a) > 0 ? true : undefined), 5_000); // its log is a pipe to a file
    expect(statusWrites(b), 'status writes by the follower').to.equal(0);

    // Freeze the leader (well within its lease): the follower sees a new route and renders
    // it, and still writes nothing; the leader, thawed, writes it.
    a.proc.kill('SIGSTOP');
    const frozenAt = Date.now();
    try {
      await apply(route('r2'));
      await until('b to render r2', () => (rendered(b, 'r2.example.com') ? true : undefined), 1000, 20);
      await sleep(300); // a follower that wrote status would have done so by now (debounce 20 ms)
      expect(Date.now() - frozenAt, 'still within the lease').to.be.below((LEASE_S - RETRY_S * 1.2 - 0.5) * 1000);
      expect(await accepted('r2'), 'r2 status while the leader is frozen').to.equal(undefined);
    } finally {
      a.proc.kill('SIGCONT');
    }
    await until('r2 Accepted once the leader runs again', () => accepted('r2'), 5000);
    expect(await holder()).to.equal('a');
    expect(statusWrites(b), 'status writes by the follower').to.equal(0);
  });

  it('SIGKILL of the leader (no release): the follower takes over once the lease expires, and writes status', async () => {
    const before = (await lease())?.spec?.leaseTransitions ?? 0;
    a.proc.kill('SIGKILL');
    const killedAt = Date.now();
    await apply(route('r3'));
    await until('r3 Accepted by the new leader', () => accepted('r3'), 15_000, 25);
    const handover = (Date.now() - killedAt) / 1000;
    console.error(`      handover after SIGKILL: ${handover.toFixed(2)} s (lease ${LEASE_S} s, retry ${RETRY_S} s)`);
    expect(await holder()).to.equal('b');
    expect((await lease())?.spec?.leaseTransitions).to.equal(before + 1);
    // a renewed at most a retry period before the kill, so its lease runs at least
    // LEASE - RETRY more; b may see that renewal up to a (jittered) retry period late, and
    // acquires on its first attempt after expiry: at most LEASE + 2 × 1.2 × RETRY.
    expect(handover, 'not before the lease expired').to.be.at.least(LEASE_S - RETRY_S - 0.2);
    expect(handover, 'within the lease and two retry periods').to.be.below(LEASE_S + 2 * 1.2 * RETRY_S + 0.8);
    // Its log is a pipe to a file: the line may land just after the status is visible in the API.
    await until('b to log a status write', () => (statusWrites(b) > 0 ? true : undefined), 5_000);
  });

  it('SIGTERM of the leader releases the lease: the follower takes over on its next attempt, well under the lease duration', async () => {
    const c = startReplica('c');
    await ready(c);
    await sleep(RETRY_S * 1.2 * 1000 + 200); // c has read the lease at least once: it follows b
    expect(await holder()).to.equal('b');
    b.proc.kill('SIGTERM');
    const termAt = Date.now();
    // r4 comes once b is gone: a leader that has not stepped down yet may still write it (its
    // right), and then c would find nothing to write.
    expect(await b.exited, 'b exit code').to.equal(0);
    await apply(route('r4'));
    await until('r4 Accepted by the new leader', () => accepted('r4'), 15_000, 25);
    const handover = (Date.now() - termAt) / 1000;
    console.error(`      handover after SIGTERM: ${handover.toFixed(2)} s (lease ${LEASE_S} s, retry ${RETRY_S} s)`);
    expect(logLines(b).some((l) => l.message === 'released the leader lease'), 'b released the lease').to.equal(true);
    expect(await holder()).to.equal('c');
    expect(handover, 'a retry period and a status write').to.be.below(RETRY_S * 1.2 + 1);
    await until('c to log a status write', () => (statusWrites(c) > 0 ? true : undefined), 5_000);
  });
});

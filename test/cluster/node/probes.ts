// Probes (readiness, liveness, startup) and lifecycle hooks, run from the host against the pod IP as the kubelet does: httpGet
// (2xx/3xx passes), tcpSocket (a connection passes), exec (inside the container's
// namespaces, exit 0 passes). gRPC probes are not implemented and always fail, saying so.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tryRun } from '../exec.ts';
import type { Container, LifecycleHandler, Probe } from './types.ts';

export interface ProbeResult {
  ok: boolean;
  message: string;
}

function resolvePort(port: number | string, container: Container): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = container.ports?.find((p) => p.name === port);
  if (!named) throw new Error(`probe port ${JSON.stringify(port)}: the container has no port of that name`);
  return named.containerPort;
}

function httpProbe(p: NonNullable<Probe['httpGet']>, host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  const https = p.scheme?.toUpperCase() === 'HTTPS';
  const headers: Record<string, string> = { 'User-Agent': 'kube-probe/waygate-node' };
  for (const h of p.httpHeaders ?? []) headers[h.name] = h.value;
  return new Promise((resolve) => {
    const req = (https ? httpsRequest : httpRequest)({ host, port, path: p.path ?? '/', method: 'GET', headers, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve({ ok: code >= 200 && code < 400, message: `HTTP probe failed with statuscode: ${code}` });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ ok: false, message: `Get "${https ? 'https' : 'http'}://${host}:${port}${p.path ?? '/'}": ${err.message}` }));
    req.end();
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = connect({ host, port, timeout: timeoutMs });
    sock.once('connect', () => {
      sock.destroy();
      resolve({ ok: true, message: '' });
    });
    sock.once('timeout', () => {
      sock.destroy();
      resolve({ ok: false, message: `dial tcp ${host}:${port}: i/o timeout` });
    });
    sock.once('error', (err) => resolve({ ok: false, message: `dial tcp ${host}:${port}: ${err.message}` }));
  });
}

/** A running container, for exec probes and hooks: they run in its namespaces and root, as its user. */
export interface ExecContext {
  pid: number;
  uid: number;
  gid: number;
}

function execIn(ctx: ExecContext, command: string[], timeoutMs: number) {
  return tryRun('nsenter', ['--target', String(ctx.pid), '--net', '--mount', '--uts', '--root', '--wd=/', `--setgid=${ctx.gid}`, `--setuid=${ctx.uid}`, '--', ...command], { timeoutMs });
}

/** A lifecycle hook (preStop): exec, sleep or httpGet, bounded by timeoutMs. */
export async function runHook(hook: LifecycleHandler, container: Container, podIP: string, ctx: ExecContext | undefined, timeoutMs: number): Promise<ProbeResult> {
  if (hook.sleep) {
    await new Promise((r) => setTimeout(r, Math.min(hook.sleep!.seconds * 1000, timeoutMs)));
    return { ok: true, message: '' };
  }
  if (hook.exec || hook.httpGet) return runProbe({ ...(hook.exec ? { exec: hook.exec } : { httpGet: hook.httpGet }), timeoutSeconds: timeoutMs / 1000 }, container, podIP, ctx);
  return { ok: false, message: 'hook has no handler the node agent supports (exec, sleep, httpGet)' };
}

/** One probe attempt. `ctx` is the container's process, for exec probes. */
export async function runProbe(probe: Probe, container: Container, podIP: string, ctx: ExecContext | undefined): Promise<ProbeResult> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  try {
    if (probe.httpGet) return await httpProbe(probe.httpGet, probe.httpGet.host || podIP, resolvePort(probe.httpGet.port, container), timeoutMs);
    if (probe.tcpSocket) return await tcpProbe(probe.tcpSocket.host || podIP, resolvePort(probe.tcpSocket.port, container), timeoutMs);
    if (probe.exec) {
      if (!ctx) return { ok: false, message: 'container is not running' };
      const r = await execIn(ctx, probe.exec.command ?? [], timeoutMs);
      return { ok: r.code === 0, message: `exec probe exited with ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 200)}` };
    }
    if (probe.grpc) return { ok: false, message: 'gRPC probes are not supported by the waygate node agent' };
    return { ok: false, message: 'probe has no handler' };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

// nginx's traffic log, for per-route metrics: nginx sends one syslog datagram per request
// (route, Gateway, status, request time, upstream status) to a UDP socket the agent binds
// on 127.0.0.1 at a port the kernel picks. No file grows, and a slow or absent agent
// costs nginx nothing: datagrams are dropped, a worker never blocks (a pipe or a stream
// socket would stall requests). Node has no unix datagram sockets, hence UDP on loopback;
// other local processes could send to it, so each datagram must carry the syslog tag, a
// random secret that only the main nginx.conf (in the private run dir) knows.
//
// The labels come from $wg_route and $wg_gateway, set by the rendered config (quoted with
// dataplane/quote.ts); escape=json keeps any tab or quote in a value from shifting fields.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';

export interface TrafficRecord {
  /** Route key "HTTPRoute/ns/name"; "" when no rule matched (404 from the server itself). */
  route: string;
  /** Gateway "ns/name"; "" outside a Gateway's servers. */
  gateway: string;
  status: number;
  /** $request_time, seconds. */
  seconds: number;
  /** Some upstream answered 502/503/504 or could not be reached ($upstream_status). */
  upstreamError: boolean;
}

export interface TrafficLogTarget {
  port: number;
  /** The syslog tag: letters and digits, a secret per agent run. */
  tag: string;
}

export const TRAFFIC_FORMAT = 'waygate_traffic';

/** The http-level directives of the main nginx.conf that send the traffic log to `target`. */
export function trafficLogDirectives(target: TrafficLogTarget): string {
  if (!Number.isInteger(target.port) || target.port <= 0 || target.port > 65535 || !/^[a-z0-9]{1,32}$/.test(target.tag)) {
    throw new Error('bad traffic log target');
  }
  return [
    // Defaults for requests no Gateway server or rule target labelled (the rendered config sets them).
    'map "" $wg_route { default ""; }',
    'map "" $wg_gateway { default ""; }',
    `log_format ${TRAFFIC_FORMAT} escape=json '$wg_route\\t$wg_gateway\\t$status\\t$request_time\\t$upstream_status';`,
    `access_log syslog:server=127.0.0.1:${target.port},tag=${target.tag},nohostname ${TRAFFIC_FORMAT};`,
  ].map((l) => `    ${l}`).join('\n');
}

const UPSTREAM_ERRORS = new Set(['502', '503', '504']);

/**
 * One datagram: "<PRI>Mmm dd hh:mm:ss TAG: route\tgateway\tstatus\ttime\tupstream".
 * undefined when it is not ours (no tag) or malformed.
 */
export function parseTrafficDatagram(datagram: string, tag: string): TrafficRecord | undefined {
  const marker = ` ${tag}: `;
  const at = datagram.indexOf(marker);
  if (at < 0 || !datagram.startsWith('<') || at > 40) return undefined;
  const fields = datagram.slice(at + marker.length).split('\t');
  if (fields.length !== 5) return undefined;
  const [route, gateway, status, time, upstream] = fields as [string, string, string, string, string];
  // Labels are Kubernetes names: a backslash means nginx escaped something we never set.
  if (route.includes('\\') || gateway.includes('\\')) return undefined;
  const code = Number(status);
  const seconds = Number(time);
  if (!Number.isInteger(code) || code < 100 || code > 999 || !(seconds >= 0)) return undefined;
  let upstreamError = false;
  if (upstream !== '' && upstream !== '-') {
    for (const s of upstream.split(/[\s,:]+/)) if (UPSTREAM_ERRORS.has(s)) upstreamError = true;
  }
  return { route, gateway, status: code, seconds, upstreamError };
}

export interface TrafficLogReceiver {
  readonly target: TrafficLogTarget;
  /** Datagrams by outcome: ours and parsed, foreign (no tag), malformed. */
  readonly counts: { ok: number; foreign: number; malformed: number };
  close(): Promise<void>;
}

/** Binds 127.0.0.1:<free port> and hands each record to `onRecord`. */
export async function startTrafficLogReceiver(onRecord: (r: TrafficRecord) => void): Promise<TrafficLogReceiver> {
  const tag = `wg${randomBytes(12).toString('hex')}`;
  const counts = { ok: 0, foreign: 0, malformed: 0 };
  const socket: Socket = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  socket.on('message', (msg) => {
    const text = msg.toString('utf8');
    const r = parseTrafficDatagram(text, tag);
    if (r) {
      counts.ok++;
      onRecord(r);
    } else if (text.includes(` ${tag}: `)) counts.malformed++;
    else counts.foreign++;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => {}); // a receive error loses one datagram, nothing more
  return {
    target: { port: socket.address().port, tag },
    counts,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

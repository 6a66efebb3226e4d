// The appProtocol of an HTTPRoute backend's Service port (spec: implementations SHOULD
// honour it; a backend the route cannot speak to in that protocol is invalid, ResolvedRefs
// False with UnsupportedProtocol, and its share of requests fails). Names: the Kubernetes
// standard application protocols (KEP-3726) and IANA service names for plain HTTP.
import type { ServicePort } from '../api/core.ts';
import type { ProtocolCheck } from './backendrefs.ts';
import { Reason } from './conditions.ts';
import type { BackendProtocol } from './types.ts';

/** What each accepted appProtocol asks for; `tls`: only with a BackendTLSPolicy, which supplies the TLS. */
const HTTP_ROUTE_PROTOCOLS: Record<string, { protocol: BackendProtocol; tls?: boolean }> = {
  http: { protocol: 'http' },
  'kubernetes.io/ws': { protocol: 'ws' },
  'kubernetes.io/h2c': { protocol: 'h2c' },
  https: { protocol: 'http', tls: true },
  'kubernetes.io/wss': { protocol: 'ws', tls: true },
};

const SUPPORTED = 'http, kubernetes.io/h2c, kubernetes.io/ws; https and kubernetes.io/wss with a BackendTLSPolicy';

/** HTTPRoute backends: no appProtocol is HTTP/1.1 (WebSocket upgrades pass too). */
export const httpRouteProtocol: ProtocolCheck = (port: ServicePort, tls: boolean, where: string) => {
  const app = port.appProtocol;
  if (app === undefined || app === '') return { protocol: 'http' };
  const unsupported = (why: string) => ({ problem: { reason: Reason.UnsupportedProtocol, message: `${where} has appProtocol ${JSON.stringify(app)}: ${why}` } });
  const known = HTTP_ROUTE_PROTOCOLS[app.toLowerCase()];
  if (!known) return unsupported(`HTTPRoute backends support ${SUPPORTED}`);
  if (known.tls && !tls) return unsupported('TLS to the backend needs a BackendTLSPolicy for this Service port');
  // h2c is cleartext by definition; nginx speaks HTTP/2 to backends only without TLS here.
  if (known.protocol === 'h2c' && tls) return unsupported('a BackendTLSPolicy asks for TLS, and HTTP/2 over TLS to backends is not supported');
  return { protocol: known.protocol };
};

// The YAML a user writes into a standalone mode's directory, for integration tests: objects as
// written by hand (no generation, no defaulted fields; the directory source fills those in,
// unlike test/support/objects.ts, which mirrors what the API server stores).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { defaultControllerName } from '../../operator/src/features.ts';

const G = 'gateway.networking.k8s.io/v1';

export const gatewayClass = (): object => ({ apiVersion: G, kind: 'GatewayClass', metadata: { name: 'waygate' }, spec: { controllerName: defaultControllerName } });

export interface GatewayOptions {
  address: string;
  port: number;
  namespace?: string;
  allowedRoutes?: object;
}

/** Gateway "gw" of class "waygate": one HTTP listener "http" on address:port. */
export function gateway({ address, port, namespace = 'web', allowedRoutes }: GatewayOptions): object {
  return {
    apiVersion: G, kind: 'Gateway', metadata: { name: 'gw', namespace },
    spec: { gatewayClassName: 'waygate', addresses: [{ type: 'IPAddress', value: address }], listeners: [{ name: 'http', protocol: 'HTTP', port, ...(allowedRoutes ? { allowedRoutes } : {}) }] },
  };
}

/** Service `name` (port 80, named http), without endpoints. */
export const service = (namespace: string, name: string): object => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { ports: [{ name: 'http', port: 80 }] } });

/** The EndpointSlice of Service `name`: one ready endpoint, 127.0.0.1:targetPort (an echo server). */
export const endpointSlice = (namespace: string, name: string, targetPort: number): object => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-1`, namespace, labels: { 'kubernetes.io/service-name': name } },
  addressType: 'IPv4', ports: [{ name: 'http', port: targetPort }], endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
});

/** Service `name` and its EndpointSlice: requests to name:80 reach 127.0.0.1:targetPort. */
export const backend = (namespace: string, name: string, targetPort: number): object[] => [service(namespace, name), endpointSlice(namespace, name, targetPort)];

export interface RouteOptions {
  namespace?: string;
  name?: string;
  hostnames: string[];
  /** The Gateway's namespace, when not the route's own. */
  gatewayNamespace?: string;
  /** Default: one rule to Service "app", port 80. */
  rules?: object[];
  labels?: Record<string, string>;
}

/** HTTPRoute attached to Gateway "gw". */
export function httpRoute({ namespace = 'web', name = 'app', hostnames, gatewayNamespace, rules = [{ backendRefs: [{ name: 'app', port: 80 }] }], labels }: RouteOptions): object {
  return {
    apiVersion: G, kind: 'HTTPRoute', metadata: { name, namespace, ...(labels ? { labels } : {}) },
    spec: { parentRefs: [{ name: 'gw', ...(gatewayNamespace ? { namespace: gatewayNamespace } : {}) }], hostnames, rules },
  };
}

/** Objects as one multi-document YAML file. */
export const toYaml = (objects: object[]): string => objects.map((o) => stringify(o)).join('---\n');

export interface AppOptions {
  address: string;
  port: number;
  echoPort: number;
  host: string;
}

/**
 * The directory most standalone tests serve, by file name: the Gateway on address:port
 * (gateway.yaml), Service web/app reaching 127.0.0.1:echoPort (backend.yaml), and HTTPRoute
 * web/app sending `host` to it (route.yaml, the file tests edit).
 */
export const appFiles = ({ address, port, echoPort, host }: AppOptions): Record<string, string> => ({
  'gateway.yaml': toYaml([gatewayClass(), gateway({ address, port })]),
  'backend.yaml': toYaml(backend('web', 'app', echoPort)),
  'route.yaml': toYaml([httpRoute({ hostnames: [host] })]),
});

/** Writes files (name -> text) into dir. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

// A container's environment, built as the kubelet builds it: envFrom, then env in order
// (later names win), with $(VAR) references expanded against what is defined so far, and
// valueFrom resolved from the pod (downward API), Secrets and ConfigMaps.
import type { Api } from './api.ts';
import { isStatus } from './api.ts';
import type { ConfigMap, Container, Pod, Secret } from './types.ts';

/** A container cannot be created yet (kubelet: CreateContainerConfigError); retried. */
export class ConfigError extends Error {}

export interface PodContext {
  pod: Pod;
  podIP: string;
  hostIP: string;
  nodeName: string;
  /** Where the API server is reached from the pod (the kubelet's KUBERNETES_SERVICE_* env). */
  kubernetesService?: { host: string; port: number };
}

/** What a runtime and the kubelet give every process, before the image's and the pod's own
 * variables: the API server's address as the kubelet publishes the `kubernetes` Service. */
const baseEnv = (ctx: PodContext): Record<string, string> => {
  const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', HOSTNAME: podHostname(ctx.pod) };
  const k = ctx.kubernetesService;
  if (k) {
    const tcp = `tcp://${k.host}:${k.port}`;
    Object.assign(env, {
      KUBERNETES_SERVICE_HOST: k.host,
      KUBERNETES_SERVICE_PORT: String(k.port),
      KUBERNETES_SERVICE_PORT_HTTPS: String(k.port),
      KUBERNETES_PORT: tcp,
      [`KUBERNETES_PORT_${k.port}_TCP`]: tcp,
      [`KUBERNETES_PORT_${k.port}_TCP_PROTO`]: 'tcp',
      [`KUBERNETES_PORT_${k.port}_TCP_PORT`]: String(k.port),
      [`KUBERNETES_PORT_${k.port}_TCP_ADDR`]: k.host,
    });
  }
  return env;
};

export function podHostname(pod: Pod): string {
  return (pod.spec.hostname ?? pod.metadata.name).slice(0, 63);
}

/** Fetches a Secret or ConfigMap; undefined when it does not exist. */
export async function getObject<T extends Secret | ConfigMap>(api: Api, kind: 'secrets' | 'configmaps', ns: string, name: string): Promise<T | undefined> {
  try {
    return await api.request<T>('GET', `/api/v1/namespaces/${ns}/${kind}/${name}`);
  } catch (err) {
    if (isStatus(err, 404)) return undefined;
    throw err;
  }
}

/** The string values of a Secret (base64-decoded) or ConfigMap. */
export function objectData(kind: 'secrets' | 'configmaps', obj: Secret | ConfigMap): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  if (kind === 'secrets') for (const [k, v] of Object.entries(obj.data ?? {})) out[k] = Buffer.from(v, 'base64');
  else {
    for (const [k, v] of Object.entries(obj.data ?? {})) out[k] = Buffer.from(v, 'utf8');
    for (const [k, v] of Object.entries((obj as ConfigMap).binaryData ?? {})) out[k] = Buffer.from(v, 'base64');
  }
  return out;
}

/** Downward API: the value of a fieldRef.fieldPath. */
export function fieldValue(ctx: PodContext, fieldPath: string): string {
  const { pod } = ctx;
  const sub = fieldPath.match(/^metadata\.(labels|annotations)\['(.+)'\]$/);
  if (sub) return (sub[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[sub[2]] ?? '';
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'metadata.labels':
    case 'metadata.annotations': {
      const m = (fieldPath === 'metadata.labels' ? pod.metadata.labels : pod.metadata.annotations) ?? {};
      return Object.keys(m).sort().map((k) => `${k}=${JSON.stringify(m[k])}`).join('\n');
    }
    case 'spec.nodeName':
      return ctx.nodeName;
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    case 'status.hostIP':
    case 'status.hostIPs':
      return ctx.hostIP;
    case 'status.podIP':
    case 'status.podIPs':
      return ctx.podIP;
    default:
      throw new ConfigError(`unsupported fieldPath ${JSON.stringify(fieldPath)}`);
  }
}

const suffixes: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

export function parseQuantity(q: string): number {
  const m = q.trim().match(/^([0-9.]+(?:[eE][-+]?\d+)?)([a-zA-Z]*)$/);
  if (!m || (m[2] && !(m[2] in suffixes))) throw new ConfigError(`invalid quantity ${JSON.stringify(q)}`);
  return Number(m[1]) * (m[2] ? suffixes[m[2]] : 1);
}

/** Downward API: a container's limit or request (limits default to the node's capacity). */
export function resourceValue(ctx: PodContext, containerName: string, resource: string, divisor = '1', capacity: Record<string, string> = {}): string {
  const c = ctx.pod.spec.containers.find((x) => x.name === containerName);
  const [kind, name] = resource.split(/\.(.*)/s);
  const raw = (kind === 'limits' ? c?.resources?.limits?.[name] : c?.resources?.requests?.[name]) ?? (kind === 'limits' ? capacity[name] : undefined) ?? '0';
  return String(Math.ceil(parseQuantity(raw) / parseQuantity(divisor)));
}

/** Kubernetes' $(VAR) expansion: defined names are replaced, $$ escapes, the rest is kept. */
export function expand(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([^)]*)\)/g, (all, name: string | undefined) => {
    if (all === '$$') return '$';
    return name !== undefined && Object.hasOwn(vars, name) ? vars[name] : all;
  });
}

/** `imageEnv`: the image's ENV, between the runtime's defaults and the pod's variables. */
export async function containerEnv(api: Api, ctx: PodContext, container: Container, capacity: Record<string, string>, imageEnv: Record<string, string> = {}): Promise<Record<string, string>> {
  const ns = ctx.pod.metadata.namespace ?? 'default';
  const env = { ...baseEnv(ctx), ...imageEnv };
  const objects = new Map<string, Record<string, Buffer> | undefined>();
  const lookup = async (kind: 'secrets' | 'configmaps', name: string) => {
    const k = `${kind}/${name}`;
    if (!objects.has(k)) {
      const obj = await getObject<Secret | ConfigMap>(api, kind, ns, name);
      objects.set(k, obj && objectData(kind, obj));
    }
    return objects.get(k);
  };
  const what = (kind: 'secrets' | 'configmaps') => (kind === 'secrets' ? 'secret' : 'configmap');

  for (const from of container.envFrom ?? []) {
    const [kind, ref] = from.secretRef ? (['secrets', from.secretRef] as const) : (['configmaps', from.configMapRef] as const);
    if (!ref) continue;
    const data = await lookup(kind, ref.name);
    if (!data) {
      if (ref.optional) continue;
      throw new ConfigError(`${what(kind)} "${ref.name}" not found`);
    }
    for (const [k, v] of Object.entries(data)) env[`${from.prefix ?? ''}${k}`] = v.toString('utf8');
  }

  for (const e of container.env ?? []) {
    const from = e.valueFrom;
    if (!from) {
      env[e.name] = expand(e.value ?? '', env);
    } else if (from.fieldRef) {
      env[e.name] = fieldValue(ctx, from.fieldRef.fieldPath);
    } else if (from.resourceFieldRef) {
      const r = from.resourceFieldRef;
      env[e.name] = resourceValue(ctx, r.containerName || container.name, r.resource, r.divisor, capacity);
    } else if (from.secretKeyRef || from.configMapKeyRef) {
      const [kind, ref] = from.secretKeyRef ? (['secrets', from.secretKeyRef] as const) : (['configmaps', from.configMapKeyRef!] as const);
      const data = await lookup(kind, ref.name ?? '');
      const value = data?.[ref.key];
      if (value === undefined) {
        if (ref.optional) continue;
        throw new ConfigError(data ? `couldn't find key ${ref.key} in ${kind === 'secrets' ? 'Secret' : 'ConfigMap'} ${ns}/${ref.name}` : `${what(kind)} "${ref.name}" not found`);
      }
      env[e.name] = value.toString('utf8');
    }
  }
  return env;
}

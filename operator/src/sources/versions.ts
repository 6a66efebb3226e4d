// Which version of each Gateway API kind to watch. CRD releases move kinds between versions
// (TLSRoute, TCPRoute and UDPRoute are served at v1 from Gateway API v1.5 on, with the older
// versions deprecated; ReferenceGrant is served at v1 and v1beta1), so the version comes
// from discovery: v1 when served, else the default of watchedKinds, else any served version.
import type { KubeConfig } from '@kubernetes/client-node';
import { watchedKinds, type WatchedKind } from '../objects.ts';
import { ApiError, getJson } from './rest.ts';

export interface KindApi {
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}

/** Per version of an API group: the plural names it serves. */
export type ServedResources = Map<string, Set<string>>;

export type VersionOverrides = Partial<Record<WatchedKind, string>>;

/** Versions of `group` in the server's order of preference, each with its resources; empty when the group is not served. */
export async function discoverServed(kubeConfig: KubeConfig, group: string): Promise<ServedResources> {
  const served: ServedResources = new Map();
  let versions: { version: string }[];
  try {
    versions = (await getJson<{ versions?: { version: string }[] }>(kubeConfig, `/apis/${group}`)).versions ?? [];
  } catch (err) {
    if (err instanceof ApiError && err.statusCode === 404) return served;
    throw err;
  }
  for (const { version } of versions) {
    const list = await getJson<{ resources?: { name: string }[] }>(kubeConfig, `/apis/${group}/${version}`);
    served.set(version, new Set((list.resources ?? []).map((r) => r.name).filter((n) => !n.includes('/'))));
  }
  return served;
}

/**
 * The version to watch `kind` at: the override when given, else the first served of v1, the
 * default, and the rest in discovery order; undefined when no version serves it (CRD missing).
 */
export function pickVersion(kind: WatchedKind, served: ServedResources, override?: string): string | undefined {
  if (override) return override;
  const { plural, version } = watchedKinds[kind];
  const candidates = ['v1', version, ...served.keys()];
  return candidates.find((v) => served.get(v)?.has(plural));
}

/** The API of a kind at a version: group/plural/scope from watchedKinds. */
export function kindApi(kind: WatchedKind, version?: string): KindApi {
  const k = watchedKinds[kind];
  return { group: k.group, version: version ?? k.version, plural: k.plural, namespaced: k.namespaced };
}

export function apiVersionOf(api: KindApi): string {
  return api.group ? `${api.group}/${api.version}` : api.version;
}

/** The collection path across all namespaces. */
export function collectionPath(api: KindApi): string {
  return api.group ? `/apis/${api.group}/${api.version}/${api.plural}` : `/api/${api.version}/${api.plural}`;
}

// Pod volumes as files in the pod's directory (kubelet: /var/lib/kubelet/pods/<uid>/volumes):
// Secret, ConfigMap, downward API, projected (service-account token included), emptyDir and
// hostPath. Made once, when the pod starts; a missing Secret or ConfigMap keeps the pod
// waiting (kubelet: FailedMount), and is looked up again on the next sync.
import { chmodSync, lchownSync, lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import type { Api } from './api.ts';
import { fieldValue, getObject, objectData, resourceValue, type PodContext } from './env.ts';
import type { ConfigMap, DownwardApiFile, KeyToPath, Secret, Volume } from './types.ts';

/** The pod cannot start until this is resolved (kubelet: ContainerCreating + FailedMount). */
export class VolumeError extends Error {}

export interface VolumeDir {
  path: string;
  /** Secret, ConfigMap, downward API and projected volumes are always mounted read-only. */
  readOnly: boolean;
}

function writeFile(dir: string, rel: string, data: Buffer | string, mode: number): void {
  const path = normalize(join(dir, rel));
  if (!path.startsWith(dir + '/')) throw new VolumeError(`volume file path ${JSON.stringify(rel)} leaves the volume`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
  chmodSync(path, mode);
}

async function keyedSource(api: Api, ns: string, kind: 'secrets' | 'configmaps', name: string, items: KeyToPath[] | undefined, optional: boolean | undefined, dir: string, mode: number): Promise<void> {
  const obj = await getObject<Secret | ConfigMap>(api, kind, ns, name);
  const label = kind === 'secrets' ? 'secret' : 'configmap';
  if (!obj) {
    if (optional) return;
    throw new VolumeError(`MountVolume.SetUp failed: ${label} "${name}" not found`);
  }
  const data = objectData(kind, obj);
  for (const item of items ?? Object.keys(data).map((key) => ({ key, path: key }) as KeyToPath)) {
    const value = data[item.key];
    if (value === undefined) {
      if (optional) continue;
      throw new VolumeError(`MountVolume.SetUp failed: ${label} "${name}" has no key "${item.key}"`);
    }
    writeFile(dir, item.path, value, item.mode ?? mode);
  }
}

function downwardFiles(ctx: PodContext, items: DownwardApiFile[] | undefined, dir: string, mode: number, capacity: Record<string, string>): void {
  for (const item of items ?? []) {
    let value = '';
    if (item.fieldRef) value = fieldValue(ctx, item.fieldRef.fieldPath);
    else if (item.resourceFieldRef) {
      const r = item.resourceFieldRef;
      value = resourceValue(ctx, r.containerName ?? '', r.resource, r.divisor, capacity);
    }
    writeFile(dir, item.path, value, item.mode ?? mode);
  }
}

async function serviceAccountToken(api: Api, ctx: PodContext, audience: string | undefined, expirationSeconds: number | undefined): Promise<string> {
  const { pod } = ctx;
  const sa = pod.spec.serviceAccountName ?? 'default';
  const res = await api.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${pod.metadata.namespace}/serviceaccounts/${sa}/token`, {
    body: {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: audience ? [audience] : [], expirationSeconds: expirationSeconds ?? 3607, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid } },
    },
  });
  return res.status.token;
}

async function makeVolume(api: Api, ctx: PodContext, v: Volume, dir: string, capacity: Record<string, string>): Promise<VolumeDir> {
  const ns = ctx.pod.metadata.namespace ?? 'default';
  if (v.hostPath) return { path: v.hostPath.path, readOnly: false };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (v.emptyDir) {
    chmodSync(dir, 0o777);
    return { path: dir, readOnly: false };
  }
  if (v.secret) {
    await keyedSource(api, ns, 'secrets', v.secret.secretName, v.secret.items, v.secret.optional, dir, v.secret.defaultMode ?? 0o644);
  } else if (v.configMap) {
    await keyedSource(api, ns, 'configmaps', v.configMap.name, v.configMap.items, v.configMap.optional, dir, v.configMap.defaultMode ?? 0o644);
  } else if (v.downwardAPI) {
    downwardFiles(ctx, v.downwardAPI.items, dir, v.downwardAPI.defaultMode ?? 0o644, capacity);
  } else if (v.projected) {
    const mode = v.projected.defaultMode ?? 0o644;
    for (const s of v.projected.sources ?? []) {
      if (s.secret) await keyedSource(api, ns, 'secrets', s.secret.name, s.secret.items, s.secret.optional, dir, mode);
      else if (s.configMap) await keyedSource(api, ns, 'configmaps', s.configMap.name, s.configMap.items, s.configMap.optional, dir, mode);
      else if (s.downwardAPI) downwardFiles(ctx, s.downwardAPI.items, dir, mode, capacity);
      else if (s.serviceAccountToken) writeFile(dir, s.serviceAccountToken.path, await serviceAccountToken(api, ctx, s.serviceAccountToken.audience, s.serviceAccountToken.expirationSeconds), mode);
      else throw new VolumeError(`volume "${v.name}": projected source ${Object.keys(s).join(', ')} is not supported by the waygate node agent`);
    }
  } else {
    const kind = Object.keys(v).filter((k) => k !== 'name').join(', ') || 'unknown';
    throw new VolumeError(`volume "${v.name}": type ${kind} is not supported by the waygate node agent`);
  }
  return { path: dir, readOnly: true };
}

/** Makes every volume of the pod under podDir/volumes; name → directory. */
export async function makeVolumes(api: Api, ctx: PodContext, podDir: string, capacity: Record<string, string>): Promise<Map<string, VolumeDir>> {
  const out = new Map<string, VolumeDir>();
  const fsGroup = ctx.pod.spec.securityContext?.fsGroup;
  for (const v of ctx.pod.spec.volumes ?? []) {
    const dir = await makeVolume(api, ctx, v, join(podDir, 'volumes', v.name), capacity);
    if (fsGroup !== undefined && !v.hostPath) applyFsGroup(dir.path, fsGroup, !!v.emptyDir);
    out.set(v.name, dir);
  }
  return out;
}

/**
 * The kubelet's fsGroup ownership: everything in the volume belongs to the group, which may
 * read what the owner may (a projected token of mode 0440 is readable by a non-root
 * container), and an emptyDir is setgid so new files stay in the group.
 */
function applyFsGroup(dir: string, gid: number, emptyDir: boolean): void {
  const walk = (path: string) => {
    const st = lstatSync(path);
    lchownSync(path, st.uid, gid);
    if (st.isSymbolicLink()) return;
    const ownerBits = (st.mode >> 6) & 0o7;
    chmodSync(path, (st.mode & 0o7777) | ((ownerBits & (st.isDirectory() ? 0o7 : 0o6)) << 3) | (st.isDirectory() && emptyDir ? 0o2000 : 0));
    if (st.isDirectory()) for (const e of readdirSync(path)) walk(join(path, e));
  };
  walk(dir);
}

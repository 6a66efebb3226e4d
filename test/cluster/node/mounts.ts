// How a container gets a filesystem without an image: it runs on the host's filesystem seen
// through an overlay, in a private mount namespace (unshare --mount, inside the pod's netns),
// chrooted into it. Nothing is mounted or created on the host itself.
//
// The overlay's lower layers are a stub layer (empty directories/files for the mountPaths
// that do not exist on the host, e.g. /app or /etc/secret-volume) and the host's /; both live
// in a tmpfs mounted (in the container's namespace only) on the container's directory, since
// overlayfs refuses layers nested in one another. readOnlyRootFilesystem: the overlay is
// read-only, and so are the host's other mounts bound into it (except /proc, /sys, /dev);
// otherwise writes go to an upper layer in that tmpfs and vanish with the container. The
// host's mounts (/proc, /sys, /dev...) are bound recursively into the new root, then volumes
// and image binds onto their mountPaths.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { quoteArgs } from '../exec.ts';
import type { VolumeDir } from './volumes.ts';
import type { Container } from './types.ts';

/** A mount cannot be set up; the container does not start (kubelet: CreateContainerError). */
export class MountError extends Error {}

export interface BindMount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** The binds of a container: the image's binds (read-only), its volumeMounts (subPath
 * included; a volume wins over an image bind at the same path), plus the pod's /etc/hosts. */
export function containerMounts(container: Container, volumes: Map<string, VolumeDir>, etcHosts: string | undefined, imageBinds: { source: string; target: string }[] = []): BindMount[] {
  const mounts: BindMount[] = [];
  const volumeTargets = new Set((container.volumeMounts ?? []).map((m) => posix.normalize(m.mountPath)));
  for (const b of imageBinds) {
    const target = posix.normalize(b.target);
    if (!volumeTargets.has(target)) mounts.push({ source: b.source, target, readOnly: true });
  }
  for (const m of container.volumeMounts ?? []) {
    const v = volumes.get(m.name);
    if (!v) throw new MountError(`volumeMount ${JSON.stringify(m.name)}: the pod has no such volume`);
    const source = m.subPath ? join(v.path, m.subPath) : v.path;
    if (m.subPath && !relative(v.path, source).split('/').every((p) => p !== '..')) throw new MountError(`subPath ${JSON.stringify(m.subPath)} leaves the volume`);
    if (!existsSync(source)) {
      if (!m.subPath) throw new MountError(`volume ${m.name}: ${source} is missing`);
      mkdirSync(source, { recursive: true }); // the kubelet creates a missing subPath directory
    }
    mounts.push({ source, target: posix.normalize(m.mountPath), readOnly: v.readOnly || m.readOnly === true });
  }
  if (etcHosts && !mounts.some((m) => m.target === '/etc/hosts')) mounts.push({ source: etcHosts, target: '/etc/hosts', readOnly: true });
  return mounts;
}

/** An empty directory or file to mount `source` onto. */
function makeStub(path: string, source: string): void {
  if (existsSync(path)) return;
  if (statSync(source).isDirectory()) mkdirSync(path, { recursive: true });
  else {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, '');
  }
}

/** Overlay options separate paths with ':' and ','. */
function assertOverlaySafe(path: string): void {
  if (/[:,\\\s]/.test(path)) throw new MountError(`cannot use ${JSON.stringify(path)} in an overlay: the path holds a character overlayfs options cannot carry`);
}

/** Mount points of this process's namespace that sit directly on / (each bound recursively
 * into a container's root), minus those under `exclude` (the agent's own state). */
export function topLevelMounts(exclude: string[], mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const points = mountinfo
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p && p !== '/' && !p.includes('\\')) // \040 etc.: nothing we bind
    .filter((p) => !exclude.some((e) => p === e || p.startsWith(e + '/')));
  const unique = [...new Set(points)];
  return unique.filter((p) => !unique.some((o) => o !== p && p.startsWith(o + '/'))).sort();
}

/** Mounts left writable in a read-only root: kernel interfaces and devices. */
const kernelMounts = ['/proc', '/sys', '/dev'];

export interface RootOptions {
  /** The container's directory on the host: the tmpfs for its layers is mounted there. */
  stage: string;
  mounts: BindMount[];
  readOnlyRoot: boolean;
  /** From topLevelMounts(). */
  hostMounts: string[];
}

/** Shell commands (for the wrapper script) that build the container's root at `${stage}/root`. */
export function rootCommands(o: RootOptions): string[] {
  const root = join(o.stage, 'root');
  assertOverlaySafe(o.stage);
  const byDepth = [...o.mounts].sort((a, b) => a.target.split('/').length - b.target.split('/').length);
  const stubs: string[] = [];
  for (const m of byDepth) {
    if (!m.target.startsWith('/') || m.target === '/') throw new MountError(`mountPath ${JSON.stringify(m.target)} is not an absolute path below /`);
    const outer = byDepth.filter((x) => m.target.startsWith(x.target + '/')).pop();
    if (outer) {
      // Nested in another mount: its mount point has to exist in that volume.
      makeStub(join(outer.source, relative(outer.target, m.target)), m.source);
      continue;
    }
    if (existsSync(m.target)) continue;
    const under = o.hostMounts.find((h) => m.target.startsWith(h + '/'));
    if (under) throw new MountError(`mountPath ${m.target}: missing on this node, inside the host mount ${under}, where the node agent cannot add it`);
    const stub = join(o.stage, 'stubs', m.target);
    stubs.push(statSync(m.source).isDirectory() ? quoteArgs('mkdir', ['-p', stub]) : `${quoteArgs('mkdir', ['-p', dirname(stub)])} && : > ${quoteArgs(stub, [])}`);
  }
  const layers = ['stubs', 'upper', 'work', 'root'].map((d) => join(o.stage, d));
  const overlay = o.readOnlyRoot ? `ro,lowerdir=${layers[0]}:/` : `lowerdir=${layers[0]}:/,upperdir=${layers[1]},workdir=${layers[2]}`;
  const cmds = [
    quoteArgs('mount', ['-t', 'tmpfs', '-o', 'mode=0755,size=256m', 'waygate-layers', o.stage]),
    quoteArgs('mkdir', ['-p', ...layers]),
    ...stubs,
    quoteArgs('mount', ['-t', 'overlay', 'waygate-root', '-o', overlay, root]),
  ];
  for (const h of o.hostMounts) {
    cmds.push(quoteArgs('mount', ['--rbind', h, root + h]));
    if (o.readOnlyRoot && !kernelMounts.includes(h)) cmds.push(quoteArgs('mount', ['-o', 'remount,bind,ro', root + h]));
  }
  for (const m of byDepth) cmds.push(quoteArgs('mount', ['--bind', ...(m.readOnly ? ['-o', 'ro'] : []), m.source, root + m.target]));
  return cmds;
}

// How a container sees its volumes without an image root filesystem: it runs on the host's
// filesystem, in a private mount namespace (unshare --mount, inside the pod's netns), where
// each volume directory is bind-mounted onto its mountPath. Nothing is mounted or created
// on the host itself.
//
// A mountPath that does not exist on the host (e.g. /etc/secret-volume) needs a directory to
// bind onto. Mounting a tmpfs over the nearest existing parent would hide that parent's
// content (all of /etc), so instead, inside the private namespace, a read-only overlay is
// mounted over the parent: the parent itself as the lower layer, plus a layer of empty stub
// directories/files (kept in the pod's directory) that adds the missing mountPaths. The
// container sees the host's /etc, unchanged and read-only, plus its mount points.
import { existsSync, mkdirSync, realpathSync, statSync, writeFileSync } from 'node:fs';
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

/** The binds of a container: its volumeMounts (subPath included), plus the pod's /etc/hosts. */
export function containerMounts(container: Container, volumes: Map<string, VolumeDir>, etcHosts: string | undefined): BindMount[] {
  const mounts: BindMount[] = [];
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
  if (/[:,\\\s]/.test(path)) throw new MountError(`cannot overlay ${JSON.stringify(path)}: the path holds a character overlayfs options cannot carry`);
}

/**
 * Shell commands (for the wrapper script) that set up the mounts, creating stubs under
 * stubDir for mountPaths missing on the host.
 */
export function mountCommands(mounts: BindMount[], stubDir: string): string[] {
  const byDepth = [...mounts].sort((a, b) => a.target.split('/').length - b.target.split('/').length);
  const overlays = new Map<string, string>(); // real parent → its stub layer
  for (const m of byDepth) {
    if (!m.target.startsWith('/')) throw new MountError(`mountPath ${JSON.stringify(m.target)} is not absolute`);
    const outer = byDepth.filter((o) => m.target.startsWith(o.target + '/')).pop();
    if (outer) {
      // Nested in another mount: its mount point has to exist in that volume.
      makeStub(join(outer.source, relative(outer.target, m.target)), m.source);
      continue;
    }
    if (existsSync(m.target)) continue;
    let parent = dirname(m.target);
    while (!existsSync(parent)) parent = dirname(parent);
    const real = realpathSync(parent);
    if (real === '/') throw new MountError(`mountPath ${m.target}: no parent directory other than / exists on this node to add it to (the node agent runs containers on the host's filesystem)`);
    assertOverlaySafe(real);
    let layer = overlays.get(real);
    if (!layer) {
      layer = join(stubDir, String(overlays.size));
      overlays.set(real, layer);
    }
    assertOverlaySafe(layer);
    makeStub(join(layer, relative(parent, m.target)), m.source);
  }
  const cmds: string[] = [];
  // Parents first: an overlay of /etc/foo must see the overlay of /etc below it.
  for (const [real, layer] of [...overlays].sort((a, b) => a[0].length - b[0].length)) {
    mkdirSync(layer, { recursive: true });
    cmds.push(quoteArgs('mount', ['-t', 'overlay', 'waygate-mountpoints', '-o', `ro,lowerdir=${layer}:${real}`, real]));
  }
  for (const m of byDepth) cmds.push(quoteArgs('mount', ['--bind', ...(m.readOnly ? ['-o', 'ro'] : []), m.source, m.target]));
  return cmds;
}

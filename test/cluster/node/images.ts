// Which local program runs a container image. There is no container runtime and no image
// pull: an image is known by its repository name, and runs as a binary built from the
// pinned Go module (or a program of this machine). Anything else is reported, never faked.
import { existsSync, readFileSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import type { Binaries, BinaryName } from '../build.ts';

export interface ImageBind {
  /** Absolute path on this machine. */
  source: string;
  /** Absolute path in the container (bind-mounted read-only in its private mount namespace). */
  target: string;
}

export interface ImageRule {
  /** Matches when the repository's last path element starts with this
   * (registry.k8s.io/gateway-api/echo-basic:v1.5.1 → "echo-basic"). */
  namePrefix?: string;
  /** Or: the whole repository, without tag or digest ("waygate.test/sh"). */
  repository?: string;
  /** The image's ENTRYPOINT: a test-bed binary, an absolute path on this machine, or an argv
   * (exec form) whose program is looked up inside the container, after `binds`. */
  entrypoint: BinaryName | `/${string}` | string[];
  /** The image's CMD: default arguments, replaced by the container's args. */
  cmd?: string[];
  /** The image's WORKDIR, unless the container sets workingDir. */
  workingDir?: string;
  /** The image's ENV, overridden by the container's env. */
  env?: Record<string, string>;
  /** What the image's layers would hold: host paths shown at paths of the container. */
  binds?: ImageBind[];
  /** The image's USER, numeric (default 0: root), for runAsNonRoot. */
  user?: number;
}

/** The images of the Gateway API conformance base manifests. */
export const defaultImageRules: ImageRule[] = [
  { namePrefix: 'echo-basic', entrypoint: 'echo-basic' },
  { namePrefix: 'coredns', entrypoint: 'coredns' },
];

export interface ImageRef {
  repository: string;
  /** Last path element of the repository. */
  name: string;
  tag?: string;
  digest?: string;
}

export function parseImage(image: string): ImageRef {
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) [rest, digest] = [rest.slice(0, at), rest.slice(at + 1)];
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) [rest, tag] = [rest.slice(0, colon), rest.slice(colon + 1)];
  return { repository: rest, name: rest.slice(rest.lastIndexOf('/') + 1), tag, digest };
}

export interface ResolvedImage {
  /** The entrypoint argv (its program: a host path, or a path inside the container). */
  entrypoint: string[];
  cmd: string[];
  workingDir?: string;
  env: Record<string, string>;
  binds: ImageBind[];
  /** The program is a file of the host, opened before the container's mounts (which may hide
   * its path); otherwise it is looked up in the container, after them. */
  hostProgram: boolean;
  /** What status reports as imageID. */
  imageID: string;
  user: number;
}

export function resolveImage(image: string, rules: ImageRule[], binaries: Binaries): ResolvedImage | undefined {
  const ref = parseImage(image);
  const rule = rules.find((r) => (r.repository !== undefined ? r.repository === ref.repository : r.namePrefix !== undefined && ref.name.startsWith(r.namePrefix)));
  if (!rule) return undefined;
  const base = { cmd: rule.cmd ?? [], workingDir: rule.workingDir, env: rule.env ?? {}, binds: rule.binds ?? [], user: rule.user ?? 0 };
  if (Array.isArray(rule.entrypoint)) return { ...base, entrypoint: rule.entrypoint, hostProgram: false, imageID: `waygate-local://${rule.repository ?? rule.namePrefix}` };
  const program = rule.entrypoint.startsWith('/') ? rule.entrypoint : binaries[rule.entrypoint as BinaryName];
  return { ...base, entrypoint: [program], hostProgram: true, imageID: `waygate-local://${program}` };
}

/**
 * The argv of a container, as a runtime derives it from the image and the pod spec: command
 * replaces the entrypoint (and drops the image's cmd), args replace cmd. A command naming the
 * image's own host program by path inside the image (e.g. /coredns) runs the mapped binary.
 */
export function containerArgv(resolved: ResolvedImage, command: string[] | undefined, args: string[] | undefined): string[] {
  if (!command?.length) return [...resolved.entrypoint, ...(args ?? resolved.cmd)];
  const [first, ...rest] = command;
  const own = resolved.entrypoint[0];
  const program = resolved.hostProgram && basename(first) === basename(own) ? own : first;
  return [program, ...rest, ...(args ?? [])];
}

/** Image rules from a JSON file: one rule or an array of them. */
export function loadImageRules(file: string): ImageRule[] {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const rules = (Array.isArray(parsed) ? parsed : [parsed]) as ImageRule[];
  for (const [i, r] of rules.entries()) {
    const where = `${file}: rule ${i}`;
    if (typeof r !== 'object' || r === null) throw new Error(`${where}: not an object`);
    if (typeof r.repository !== 'string' && typeof r.namePrefix !== 'string') throw new Error(`${where}: needs repository or namePrefix`);
    const ep = r.entrypoint;
    if (!(typeof ep === 'string' || (Array.isArray(ep) && ep.length > 0 && ep.every((a) => typeof a === 'string')))) throw new Error(`${where}: entrypoint must be a string or a non-empty string array`);
    for (const b of r.binds ?? []) {
      if (!isAbsolute(b.source) || !isAbsolute(b.target)) throw new Error(`${where}: bind ${JSON.stringify(b)} needs absolute source and target`);
      if (!existsSync(b.source)) throw new Error(`${where}: bind source ${b.source} does not exist`);
    }
  }
  return rules;
}

export function unmappedMessage(image: string): string {
  return `image "${image}" is not mapped to a program on this node (no container runtime here; see test/cluster/node/images.ts)`;
}

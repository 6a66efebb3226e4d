// Which local program runs a container image. There is no container runtime and no image
// pull: an image is known by its repository name, and runs as a binary built from the
// pinned Go module (or a program of this machine). Anything else is reported, never faked.
import { basename } from 'node:path';
import type { Binaries, BinaryName } from '../build.ts';

export interface ImageRule {
  /** Matches when the repository's last path element starts with this
   * (registry.k8s.io/gateway-api/echo-basic:v1.5.1 → "echo-basic"). */
  namePrefix?: string;
  /** Or: the whole repository, without tag or digest ("waygate.test/sh"). */
  repository?: string;
  /** The image's entrypoint: a test-bed binary, or an absolute path on this machine. */
  entrypoint: BinaryName | `/${string}`;
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
  /** Program run for the image's entrypoint. */
  program: string;
  /** What status reports as imageID. */
  imageID: string;
}

export function resolveImage(image: string, rules: ImageRule[], binaries: Binaries): ResolvedImage | undefined {
  const ref = parseImage(image);
  const rule = rules.find((r) => (r.repository !== undefined ? r.repository === ref.repository : r.namePrefix !== undefined && ref.name.startsWith(r.namePrefix)));
  if (!rule) return undefined;
  const program = rule.entrypoint.startsWith('/') ? rule.entrypoint : binaries[rule.entrypoint as BinaryName];
  return { program, imageID: `waygate-local://${program}` };
}

/**
 * The argv of a container, as a runtime derives it from the image and the pod spec: command
 * replaces the entrypoint, args replace the image's (empty) default arguments. A command
 * naming the image's own program by path inside the image (e.g. /coredns) runs the mapped
 * binary; any other command is a program of this machine.
 */
export function containerArgv(resolved: ResolvedImage, command: string[] | undefined, args: string[] | undefined): string[] {
  if (!command?.length) return [resolved.program, ...(args ?? [])];
  const [first, ...rest] = command;
  const program = basename(first) === basename(resolved.program) ? resolved.program : first;
  return [program, ...rest, ...(args ?? [])];
}

export function unmappedMessage(image: string): string {
  return `image "${image}" is not mapped to a program on this node (no container runtime here; see test/cluster/node/images.ts)`;
}

// A container's securityContext (pod-level values as defaults), as the kubelet and the runtime
// apply it: the user and group the program runs as, runAsNonRoot checked before the start
// (kubelet: CreateContainerConfigError), capabilities dropped from the bounding set, and
// no_new_privs. Applied with setpriv as the wrapper's last step, after the mounts.
// readOnlyRootFilesystem is applied by mounts.ts. Not enforced: seccomp, AppArmor, SELinux.
import { ConfigError } from './env.ts';
import type { Container, Pod } from './types.ts';

export interface Identity {
  uid: number;
  gid: number;
  /** setpriv options; empty when the program keeps the wrapper's root and capabilities. */
  setpriv: string[];
}

const capName = (c: string) => c.toLowerCase().replace(/^cap_/, '');

/** `imageUser`: the image's USER (numeric; the node agent's images run as root unless a rule says otherwise). */
export function containerIdentity(pod: Pod, c: Container, imageUser = 0): Identity {
  const podSc = pod.spec.securityContext ?? {};
  const sc = c.securityContext ?? {};
  const uid = sc.runAsUser ?? podSc.runAsUser ?? imageUser;
  const gid = sc.runAsGroup ?? podSc.runAsGroup ?? 0;
  const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot ?? false;
  const who = `pod: "${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})", container: ${c.name}`;
  if (nonRoot && uid === 0) {
    throw new ConfigError(sc.runAsUser === 0 || podSc.runAsUser === 0 ? `container's runAsUser breaks non-root policy (${who})` : `container has runAsNonRoot and image will run as root (${who})`);
  }
  const setpriv: string[] = [];
  const groups = podSc.supplementalGroups ?? [];
  if (uid !== 0 || gid !== 0 || groups.length) setpriv.push(`--reuid=${uid}`, `--regid=${gid}`, groups.length ? `--groups=${groups.join(',')}` : '--clear-groups');
  const drop = (sc.capabilities?.drop ?? []).map(capName);
  const add = (sc.capabilities?.add ?? []).map(capName);
  const caps = drop.includes('all') ? ['-all', ...add.map((a) => `+${a}`)] : drop.filter((d) => !add.includes(d)).map((d) => `-${d}`);
  if (caps.length) setpriv.push(`--bounding-set=${caps.join(',')}`, `--inh-caps=${drop.includes('all') ? '-all' : caps.join(',')}`);
  if (sc.allowPrivilegeEscalation === false) setpriv.push('--no-new-privs');
  return { uid, gid, setpriv };
}

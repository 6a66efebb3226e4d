// Pod status as the kubelet reports it: phase, conditions with transition times, IPs, and
// container statuses. Conditions the agent does not own (readiness gates, disruption
// targets) are kept as they are: status is written as a merge patch that replaces the list.
import type { ContainerRunner } from './container.ts';
import { nowTime, type Condition, type Pod, type PodStatus } from './types.ts';

const owned = ['PodReadyToStartContainers', 'Initialized', 'ContainersReady', 'Ready', 'PodScheduled'];

export interface PodState {
  pod: Pod;
  podIP?: string;
  hostIP: string;
  startTime: string;
  runners: ContainerRunner[];
  /** What the agent last wrote: owned conditions keep their transition times from it. */
  written?: PodStatus;
  /** Set when the pod cannot run at all (e.g. init containers); shown as Initialized=False. */
  blocked?: { reason: string; message: string };
}

function phaseOf(s: PodState): string {
  const statuses = s.runners.map((r) => r.status(''));
  if (s.blocked || statuses.some((c) => c.restartCount === 0 && !c.state.running && !c.state.terminated && !c.lastState.terminated)) return 'Pending';
  if (statuses.some((c) => c.state.running)) return 'Running';
  const policy = s.pod.spec.restartPolicy ?? 'Always';
  const codes = s.runners.map((r) => r.state.terminated?.exitCode);
  if (policy === 'Always' || codes.some((c) => c === undefined)) return 'Running';
  if (codes.every((c) => c === 0)) return 'Succeeded';
  return policy === 'Never' ? 'Failed' : 'Running';
}

/** Keeps lastTransitionTime from the current status while a condition's status is unchanged. */
function condition(current: Condition[], type: string, status: boolean, reason?: string, message?: string): Condition {
  const value = status ? 'True' : 'False';
  const prev = current.find((c) => c.type === type);
  return {
    type,
    status: value,
    lastProbeTime: null,
    lastTransitionTime: prev?.status === value && prev.lastTransitionTime ? prev.lastTransitionTime : nowTime(),
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
  };
}

export function podStatus(s: PodState): PodStatus {
  const fromApi = s.pod.status?.conditions ?? [];
  const current = s.written?.conditions ?? fromApi;
  const containerStatuses = s.runners.map((r) => r.status(r.spec.image ?? ''));
  const unready = containerStatuses.filter((c) => !c.ready).map((c) => c.name);
  const gates = ((s.pod.spec as { readinessGates?: { conditionType: string }[] }).readinessGates ?? []).map((g) => g.conditionType);
  const gatesOpen = gates.every((g) => fromApi.some((c) => c.type === g && c.status === 'True'));
  const containersReady = unready.length === 0;
  const notReadyMsg = `containers with unready status: [${unready.join(' ')}]`;
  const phase = phaseOf(s);
  const conditions: Condition[] = [
    condition(current, 'PodReadyToStartContainers', !!s.podIP),
    condition(current, 'Initialized', !s.blocked, s.blocked?.reason, s.blocked?.message),
    condition(current, 'Ready', containersReady && gatesOpen && phase === 'Running', containersReady ? (gatesOpen ? undefined : 'ReadinessGatesNotReady') : 'ContainersNotReady', containersReady ? undefined : notReadyMsg),
    condition(current, 'ContainersReady', containersReady, containersReady ? undefined : 'ContainersNotReady', containersReady ? undefined : notReadyMsg),
    condition(current, 'PodScheduled', true),
    ...fromApi.filter((c) => !owned.includes(c.type)),
  ];
  return {
    phase,
    conditions,
    hostIP: s.hostIP,
    hostIPs: [{ ip: s.hostIP }],
    ...(s.podIP ? { podIP: s.podIP, podIPs: [{ ip: s.podIP }] } : {}),
    startTime: s.startTime,
    containerStatuses,
  };
}

/** The status without times that change on every computation, to tell real changes. */
export function statusFingerprint(st: PodStatus): string {
  return JSON.stringify({ ...st, conditions: st.conditions?.map((c) => ({ ...c, lastTransitionTime: undefined })) });
}

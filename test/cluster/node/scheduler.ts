// The scheduler of a one-node cluster: every pending pod that asks for the default
// scheduler and whose nodeSelector the node satisfies is bound to the node, through the
// pods/binding subresource as kube-scheduler does. Affinity and taints are not evaluated.
import { isStatus, type Api } from './api.ts';
import { nowTime, type Pod } from './types.ts';

export function wantsBinding(pod: Pod): boolean {
  return (
    !pod.spec.nodeName &&
    !pod.metadata.deletionTimestamp &&
    !pod.spec.schedulingGates?.length && // gated pods wait, as with kube-scheduler
    (pod.spec.schedulerName ?? 'default-scheduler') === 'default-scheduler' &&
    !['Succeeded', 'Failed'].includes(pod.status?.phase ?? '')
  );
}

export function fits(pod: Pod, nodeLabels: Record<string, string>): boolean {
  return Object.entries(pod.spec.nodeSelector ?? {}).every(([k, v]) => nodeLabels[k] === v);
}

/** Binds the pod; false when it does not fit (it is then marked Unschedulable, as the scheduler does). */
export async function bind(api: Api, pod: Pod, nodeName: string, nodeLabels: Record<string, string>): Promise<boolean> {
  const { namespace, name } = pod.metadata;
  if (!fits(pod, nodeLabels)) {
    const msg = `0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.`;
    const cond = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (cond?.message !== msg) {
      const conditions = [...(pod.status?.conditions ?? []).filter((c) => c.type !== 'PodScheduled'), { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: msg, lastProbeTime: null, lastTransitionTime: nowTime() }];
      await api.request('PATCH', `/api/v1/namespaces/${namespace}/pods/${name}/status`, { body: { status: { conditions } } }).catch(() => undefined);
    }
    return false;
  }
  try {
    await api.request('POST', `/api/v1/namespaces/${namespace}/pods/${name}/binding`, {
      body: { apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace, uid: pod.metadata.uid }, target: { apiVersion: 'v1', kind: 'Node', name: nodeName } },
    });
    return true;
  } catch (err) {
    if (isStatus(err, 404, 409)) return false; // deleted meanwhile, or already bound
    throw err;
  }
}

// upstream manage / podsShouldBeOnNode / getUnscheduledPodsWithoutNode, plus
// everynode's removal of unpinned pods.
import type { V1Pod } from '@kubernetes/client-node';
import { backoffRemainingMs, failedPodBackoffKey, isInBackoff, nextBackoff } from './backoff.ts';
import { isPodAvailable, isPodReady, isTerminating, podHash, podName, sortPodsOldestFirst } from './pods.ts';
import { allowsSurge } from './rolling-update.ts';
import { nodeNameOf, placementOf, type SyncContext } from './sync-context.ts';
import type { BackoffEntry, PlannedEvent, PodDelete } from './types.ts';

export interface ManageStep {
  /** Nodes needing a pod, in node order. */
  createNodes: string[];
  deletes: PodDelete[];
  events: PlannedEvent[];
  backoffUpdates: Array<{ key: string; entry: BackoffEntry }>;
  /** Earliest end of a failed-pod backoff that held a delete back. */
  requeueAfterMs: number | undefined;
}

/**
 * Decide creates and deletes node by node:
 * - unpinned pods (see groupDaemonPods) are deleted with a Warning
 *   UnpinnedDaemonPod; their node then counts as without a pod, so a pinned
 *   replacement is created in the same plan when the node should run one and
 *   has no other pod (the event says which);
 * - shouldRun and no pod → create;
 * - shouldContinueRunning: terminating pods are skipped; Failed pods are deleted
 *   (Warning FailedDaemonPod) unless the node's failed-pod backoff holds them
 *   back, which requeues; Succeeded pods are deleted (Normal SucceededDaemonPod);
 *   of the rest, without surge the oldest is kept and the others deleted; with
 *   surge the oldest current and the oldest old pod are kept, the old one going
 *   when it is not Ready or the new one is available; with surge and no pod left
 *   a pod is created even while others terminate;
 * - otherwise every live pod on the node is deleted (misscheduled);
 * - unbound pods pinned to a node that no longer exists are deleted (PodGC only
 *   collects bound pods). Unlike upstream, pods already terminating are not
 *   deleted again, which would only add an expectation no event satisfies.
 */
export function manage(ctx: SyncContext, backoff: ReadonlyMap<string, BackoffEntry>): ManageStep {
  const step: ManageStep = {
    createNodes: [],
    deletes: [],
    events: [],
    backoffUpdates: [],
    requeueAfterMs: undefined,
  };
  const namespace = ctx.ds.metadata?.namespace ?? '';
  const podRef = (pod: V1Pod) => `${pod.metadata?.namespace ?? namespace}/${podName(pod)}`;
  const remove = (pod: V1Pod, nodeName: string | undefined, reason: string) =>
    step.deletes.push({ name: podName(pod), uid: pod.metadata?.uid ?? '', nodeName, reason });
  const requeue = (ms: number) => {
    step.requeueAfterMs = step.requeueAfterMs === undefined ? ms : Math.min(step.requeueAfterMs, ms);
  };
  const localBackoff = new Map(backoff);
  const surge = allowsSurge(ctx.ds);

  for (const { pod, targetNode } of ctx.pods.unpinned) remove(pod, targetNode, 'unpinned');
  for (const node of ctx.nodes) {
    const nodeName = nodeNameOf(node);
    const { shouldRun, shouldContinueRunning } = placementOf(ctx, nodeName);
    const daemonPods = ctx.pods.byNode.get(nodeName) ?? [];

    if (shouldRun && daemonPods.length === 0) {
      step.createNodes.push(nodeName);
      continue;
    }
    if (!shouldContinueRunning) {
      for (const pod of daemonPods) if (!isTerminating(pod)) remove(pod, nodeName, 'misscheduled');
      continue;
    }

    const running: V1Pod[] = [];
    for (const pod of daemonPods) {
      if (isTerminating(pod)) continue;
      const phase = pod.status?.phase;
      if (phase === 'Failed') {
        // Kubelets can reject a pod again and again; back off instead of hot-looping.
        const key = failedPodBackoffKey(ctx.ds, nodeName);
        const entry = localBackoff.get(key);
        if (isInBackoff(entry, ctx.now)) {
          requeue(backoffRemainingMs(entry as BackoffEntry, ctx.now));
          continue;
        }
        const next = nextBackoff(entry, ctx.now);
        localBackoff.set(key, next);
        step.backoffUpdates.push({ key, entry: next });
        step.events.push({
          type: 'Warning',
          reason: 'FailedDaemonPod',
          message: `Found failed daemon pod ${podRef(pod)} on node ${nodeName}, will try to kill it`,
        });
        remove(pod, nodeName, 'failed');
      } else if (phase === 'Succeeded') {
        step.events.push({
          type: 'Normal',
          reason: 'SucceededDaemonPod',
          message: `Found succeeded daemon pod ${podRef(pod)} on node ${nodeName}, will try to delete it`,
        });
        remove(pod, nodeName, 'succeeded');
      } else {
        running.push(pod);
      }
    }

    if (!surge) {
      if (running.length > 1)
        for (const pod of sortPodsOldestFirst(running).slice(1)) remove(pod, nodeName, 'excess');
      continue;
    }
    if (running.length <= 1) {
      if (running.length === 0 && shouldRun) step.createNodes.push(nodeName);
      continue;
    }
    let oldestNew: V1Pod | undefined;
    let oldestOld: V1Pod | undefined;
    for (const pod of sortPodsOldestFirst(running)) {
      if (podHash(pod) === ctx.hash) {
        if (!oldestNew) {
          oldestNew = pod;
          continue;
        }
      } else if (!oldestOld) {
        oldestOld = pod;
        continue;
      }
      remove(pod, nodeName, 'excess');
    }
    if (oldestNew && oldestOld) {
      if (!isPodReady(oldestOld) || isPodAvailable(oldestNew, ctx.minReadySeconds, ctx.now)) {
        remove(oldestOld, nodeName, 'surge-replaced');
      }
    }
  }

  // Said once the node loop knows whether the pod's node gets a replacement now.
  const creating = new Set(step.createNodes);
  for (const { pod, targetNode } of ctx.pods.unpinned) {
    const node = targetNode ? `node ${targetNode}` : 'any node';
    const others = targetNode ? (ctx.pods.byNode.get(targetNode) ?? []).filter((p) => !isTerminating(p)) : [];
    let outcome: string;
    if (targetNode !== undefined && creating.has(targetNode))
      outcome = 'will delete it and create a pinned replacement';
    else if (others.length > 0)
      outcome = `will delete it; ${node} already has daemon pod ${podRef(others[0] as V1Pod)}`;
    else outcome = `will delete it; no replacement is created for ${node} now`;
    if (targetNode === undefined) outcome = 'will delete it';
    step.events.push({
      type: 'Warning',
      reason: 'UnpinnedDaemonPod',
      message:
        `Found daemon pod ${podRef(pod)} without node pinning for ${node}: ` +
        `the pinning webhook was bypassed, ${outcome}`,
    });
  }

  for (const [nodeName, pods] of ctx.pods.byNode) {
    if (ctx.placement.has(nodeName)) continue; // every existing node has a placement
    for (const pod of pods)
      if (!pod.spec?.nodeName && !isTerminating(pod)) remove(pod, nodeName, 'node-gone');
  }
  return step;
}

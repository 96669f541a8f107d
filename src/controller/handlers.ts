// The DaemonSet controller's informer event handlers (upstream
// daemon_controller.go addDaemonset … deleteNode): they only record
// expectations and enqueue DaemonSet keys; every decision is the planner's.
import type {
  V1ControllerRevision,
  V1DaemonSet,
  V1Node,
  V1OwnerReference,
  V1Pod,
} from '@kubernetes/client-node';
import {
  APPS_V1_DAEMONSET,
  controllerRefOf,
  pinnedNodeOf,
  refersToKind,
  TARGET_NODE_ANNOTATION,
  type DaemonOwnerKind,
  type NetworkUnavailableMode,
} from '../contract/daemon-pod.ts';
import { objectKey } from '../machinery/informer.ts';
import { labelSelectorMatches } from '../machinery/label-selector.ts';
import type { WorkQueue } from '../machinery/workqueue.ts';
import { BY_CONTROLLER, BY_NAMESPACE, type DaemonSetCaches } from './caches.ts';
import type { ControllerExpectations } from './expectations.ts';
import { nodeShouldRunDaemonPod } from './placement.ts';
import { isPodReady, podHash } from './pods.ts';
import { usesRolloutControl } from './rollout-control.ts';

export interface HandlerDeps {
  caches: DaemonSetCaches;
  queue: WorkQueue<string>;
  expectations: ControllerExpectations;
  /** Per-DaemonSet memory forgotten with the DaemonSet (last valid rollout settings). */
  forget?: (ds: V1DaemonSet) => void;
  networkUnavailable: NetworkUnavailableMode;
  /** The kind of the DaemonSets in `caches.daemonSets` (default apps/v1). */
  ownerKind?: DaemonOwnerKind;
}

export function registerEventHandlers(deps: HandlerDeps): void {
  const { caches, queue, expectations } = deps;
  const kind = deps.ownerKind ?? APPS_V1_DAEMONSET;
  const enqueue = (ds: V1DaemonSet) => queue.add(objectKey(ds));
  const placement = (node: Parameters<typeof nodeShouldRunDaemonPod>[0], ds: V1DaemonSet) =>
    nodeShouldRunDaemonPod(node, ds, deps.networkUnavailable);

  /** The DaemonSet a controller reference points at, if it exists with that UID (upstream resolveControllerRef). */
  const resolveControllerRef = (namespace: string | undefined, ref: V1OwnerReference | undefined) => {
    if (!refersToKind(ref, kind) || ref === undefined) return undefined;
    const ds = caches.daemonSets.get(`${namespace ?? ''}/${ref.name}`);
    return ds?.metadata?.uid === ref.uid ? ds : undefined;
  };

  /** DaemonSets in the object's namespace whose selector matches its labels. */
  const daemonSetsSelecting = (obj: { metadata?: { namespace?: string; labels?: Record<string, string> } }) =>
    caches.daemonSets
      .byIndex(BY_NAMESPACE, obj.metadata?.namespace ?? '')
      .filter((ds) => labelSelectorMatches(ds.spec?.selector, obj.metadata?.labels));

  const onDaemonSetDeleted = (ds: V1DaemonSet) => {
    const key = objectKey(ds);
    expectations.deleteExpectations(key);
    deps.forget?.(ds);
    queue.add(key);
  };

  const onPodDeleted = (pod: V1Pod) => {
    const ds = resolveControllerRef(pod.metadata?.namespace, controllerRefOf(pod));
    if (!ds) return;
    expectations.deletionObserved(objectKey(ds), pod.metadata?.uid ?? '');
    expectations.updateObserved(objectKey(ds), pod.metadata?.uid ?? '', undefined);
    enqueue(ds);
  };

  const onPodAdded = (pod: V1Pod) => {
    // A pod already terminating when first seen (e.g. after a restart) is not a creation observation.
    if (pod.metadata?.deletionTimestamp) return onPodDeleted(pod);
    const ref = controllerRefOf(pod);
    if (ref) {
      const ds = resolveControllerRef(pod.metadata?.namespace, ref);
      if (!ds) return;
      expectations.creationObserved(objectKey(ds));
      enqueue(ds);
      return;
    }
    for (const ds of daemonSetsSelecting(pod)) enqueue(ds);
  };

  const onPodUpdated = (old: V1Pod, cur: V1Pod) => {
    if (old.metadata?.resourceVersion === cur.metadata?.resourceVersion) return;
    // A graceful delete first sets deletionTimestamp: count it as the deletion now, so a replacement is not delayed.
    if (cur.metadata?.deletionTimestamp) return onPodDeleted(cur);
    const curRef = controllerRefOf(cur);
    const oldRef = controllerRefOf(old);
    const refChanged = oldRef?.uid !== curRef?.uid;
    if (refChanged && oldRef) {
      const ds = resolveControllerRef(old.metadata?.namespace, oldRef);
      if (ds) enqueue(ds);
    }
    if (curRef) {
      const ds = resolveControllerRef(cur.metadata?.namespace, curRef);
      if (!ds) return;
      expectations.updateObserved(objectKey(ds), cur.metadata?.uid ?? '', podHash(cur) ?? '');
      enqueue(ds);
      const minReadySeconds = ds.spec?.minReadySeconds ?? 0;
      // upstream: one second more, against clock skew in AddAfter.
      if (!isPodReady(old) && isPodReady(cur) && minReadySeconds > 0) {
        queue.addAfter(objectKey(ds), minReadySeconds * 1000 + 1000);
      }
      return;
    }
    if (!sameLabels(old.metadata?.labels, cur.metadata?.labels) || refChanged) {
      for (const ds of daemonSetsSelecting(cur)) enqueue(ds);
    }
  };

  const onRevisionDeleted = (rev: V1ControllerRevision) => {
    const ds = resolveControllerRef(rev.metadata?.namespace, controllerRefOf(rev));
    if (ds) enqueue(ds);
  };

  caches.daemonSets.addHandlers({
    add: enqueue,
    update: (old, cur) => {
      if (old.metadata?.uid !== cur.metadata?.uid) onDaemonSetDeleted(old);
      enqueue(cur);
    },
    delete: onDaemonSetDeleted,
  });

  caches.pods.addHandlers({ add: onPodAdded, update: onPodUpdated, delete: onPodDeleted });

  caches.revisions.addHandlers({
    add: (rev) => {
      if (rev.metadata?.deletionTimestamp) return onRevisionDeleted(rev);
      // upstream: a new revision with a controller ref does not enqueue its owner (the owner created it).
      if (controllerRefOf(rev)) return;
      for (const ds of daemonSetsSelecting(rev)) enqueue(ds);
    },
    update: (old, cur) => {
      if (old.metadata?.resourceVersion === cur.metadata?.resourceVersion) return;
      const curRef = controllerRefOf(cur);
      const oldRef = controllerRefOf(old);
      if (oldRef && oldRef.uid !== curRef?.uid) {
        const ds = resolveControllerRef(old.metadata?.namespace, oldRef);
        if (ds) enqueue(ds);
      }
      if (curRef) {
        const ds = resolveControllerRef(cur.metadata?.namespace, curRef);
        if (ds) enqueue(ds);
        return;
      }
      if (!sameLabels(old.metadata?.labels, cur.metadata?.labels) || oldRef) {
        for (const ds of daemonSetsSelecting(cur)) enqueue(ds);
      }
    },
    delete: onRevisionDeleted,
  });

  caches.nodes.addHandlers({
    add: (node) => {
      for (const ds of caches.daemonSets.list()) if (placement(node, ds).shouldRun) enqueue(ds);
    },
    update: (old, cur) => {
      const labelsChanged = !sameLabels(old.metadata?.labels, cur.metadata?.labels);
      // everynode: readiness decides dead nodes and auto-pause, labels the canary pool and the
      // waves, so those changes reach every DaemonSet they may concern.
      const readyChanged = readyStatus(old) !== readyStatus(cur);
      for (const ds of caches.daemonSets.list()) {
        if (readyChanged || (labelsChanged && (kind !== APPS_V1_DAEMONSET || usesRolloutControl(ds))))
          enqueue(ds);
      }
      // upstream shouldIgnoreNodeUpdate: only labels and taints change placement.
      if (
        !labelsChanged &&
        JSON.stringify(old.spec?.taints ?? []) === JSON.stringify(cur.spec?.taints ?? [])
      ) {
        return;
      }
      for (const ds of caches.daemonSets.list()) {
        const before = placement(old, ds);
        const after = placement(cur, ds);
        if (
          before.shouldRun !== after.shouldRun ||
          before.shouldContinueRunning !== after.shouldContinueRunning
        ) {
          enqueue(ds);
        }
      }
    },
    // Upstream has no node-delete handler and waits for PodGC; enqueueing the DaemonSets with a pod
    // pinned to the node lets an unbound pod for a vanished node go without waiting for another event.
    delete: (node) => {
      const name = node.metadata?.name;
      for (const ds of caches.daemonSets.list()) {
        const owned = caches.pods
          .byIndex(BY_CONTROLLER, ds.metadata?.uid ?? '')
          .some((p) => podTargetsNode(p, name));
        if (owned) enqueue(ds);
      }
    },
  });
}

const readyStatus = (node: V1Node): string | undefined =>
  node.status?.conditions?.find((c) => c.type === 'Ready')?.status;

function sameLabels(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ea = Object.entries(a ?? {});
  if (ea.length !== Object.keys(b ?? {}).length) return false;
  return ea.every(([k, v]) => b?.[k] === v);
}

function podTargetsNode(pod: V1Pod, node: string | undefined): boolean {
  return (
    node !== undefined &&
    (pinnedNodeOf(pod) === node || pod.metadata?.annotations?.[TARGET_NODE_ANNOTATION] === node)
  );
}

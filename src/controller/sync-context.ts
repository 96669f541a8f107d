// What one sync computes once and every step (manage, rolling update, status)
// reads: placement per node, pods per node, the current hash.
import type { V1DaemonSet, V1Node } from '@kubernetes/client-node';
import { APPS_V1_DAEMONSET, type NetworkUnavailableMode } from '../contract/daemon-pod.ts';
import { groupDaemonPods, type DaemonPods } from './daemon-pods.ts';
import { nodeShouldRunDaemonPod, type Placement } from './placement.ts';
import { templateGeneration } from './pods.ts';
import type { Snapshot } from './types.ts';

export interface SyncContext {
  ds: V1DaemonSet;
  /** Nodes in snapshot order; creates follow this order. */
  nodes: readonly V1Node[];
  /** Placement of every existing node, by name. */
  placement: ReadonlyMap<string, Placement>;
  pods: DaemonPods;
  /** Hash label of the current revision. */
  hash: string;
  /** Template generation (annotation), as a decimal string. */
  generation: string | undefined;
  now: number;
  minReadySeconds: number;
  networkUnavailable: NetworkUnavailableMode;
}

const NOWHERE: Placement = { shouldRun: false, shouldContinueRunning: false };

export function buildSyncContext(snapshot: Snapshot, hash: string): SyncContext {
  const networkUnavailable = snapshot.networkUnavailable ?? 'hostNetwork';
  const placement = new Map<string, Placement>();
  for (const node of snapshot.nodes) {
    placement.set(node.metadata?.name ?? '', nodeShouldRunDaemonPod(node, snapshot.ds, networkUnavailable));
  }
  return {
    ds: snapshot.ds,
    nodes: snapshot.nodes,
    placement,
    pods: groupDaemonPods(snapshot.pods),
    hash,
    // The template-generation annotation is apps/v1's (the API server maintains it); nothing
    // maintains it on everynode's own kind, where a copied one would mark every pod updated.
    generation:
      (snapshot.ownerKind ?? APPS_V1_DAEMONSET) === APPS_V1_DAEMONSET
        ? templateGeneration(snapshot.ds)
        : undefined,
    now: snapshot.now,
    minReadySeconds: snapshot.ds.spec?.minReadySeconds ?? 0,
    networkUnavailable,
  };
}

/** A node that no longer exists should run nothing. */
export const placementOf = (ctx: SyncContext, nodeName: string): Placement =>
  ctx.placement.get(nodeName) ?? NOWHERE;

export const nodeNameOf = (node: V1Node): string => node.metadata?.name ?? '';

// RollingUpdate: upstream rollingUpdate, updatedDesiredNodeCounts and the
// surge/unavailable helpers of pkg/controller/daemon/util.
import type { V1DaemonSet, V1Pod } from '@kubernetes/client-node';
import { isPodAvailable, isPodUpdated, isTerminating, podName } from './pods.ts';
import { nodeNameOf, placementOf, type SyncContext } from './sync-context.ts';
import type { PlannedEvent, PodDelete } from './types.ts';

/** Which old pods the rollout may replace now, and which nodes are dead (see rollout-control.ts). */
export interface ReplaceGate {
  mayReplace(nodeName: string): boolean;
  /** Nodes in the documented update order (rollout-control.ts); nodes it leaves out keep snapshot order, after. */
  order?: readonly string[];
  /** Nodes NotReady since before the update began: their pods never count against the budget. */
  dead: ReadonlySet<string>;
}

const OPEN_GATE: ReplaceGate = { mayReplace: () => true, dead: new Set() };

/**
 * intstr.GetScaledValueFromIntOrPercent: an integer as is, `N%` of `total`
 * rounded up or down. Values upstream rejects (absent, a non-percent string, a
 * bad number) count as 0 here: validation never lets them through, and 0 for
 * both limits falls back to maxUnavailable 1.
 */
export function scaledValue(value: number | string | undefined, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return Number.isInteger(value) ? value : 0;
  if (typeof value !== 'string' || !value.endsWith('%')) return 0;
  const digits = value.slice(0, -1);
  if (!/^[+-]?\d+$/.test(digits)) return 0;
  const scaled = (Number(digits) * total) / 100;
  return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
}

const isRollingUpdate = (ds: V1DaemonSet): boolean =>
  (ds.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate';

/** util.SurgeCount: maxSurge scaled to `desired`; 0 unless RollingUpdate with maxSurge set. */
export function surgeCount(ds: V1DaemonSet, desired: number): number {
  const rolling = ds.spec?.updateStrategy?.rollingUpdate;
  if (!isRollingUpdate(ds) || rolling?.maxSurge === undefined) return 0;
  return scaledValue(rolling.maxSurge, desired, true);
}

/** util.UnavailableCount: maxUnavailable scaled to `desired`; 0 unless RollingUpdate. */
export function unavailableCount(ds: V1DaemonSet, desired: number): number {
  const rolling = ds.spec?.updateStrategy?.rollingUpdate;
  if (!isRollingUpdate(ds) || rolling === undefined) return 0;
  return scaledValue(rolling.maxUnavailable, desired, true);
}

/** Does any container of the template claim a host port? */
export const usesHostPort = (ds: V1DaemonSet): boolean =>
  [...(ds.spec?.template?.spec?.initContainers ?? []), ...(ds.spec?.template?.spec?.containers ?? [])].some(
    (c) => (c.ports ?? []).some((p) => (p.hostPort ?? 0) > 0),
  );

/**
 * util.AllowsSurge: a surge of at least one pod for a single node. everynode: never for a template
 * with a hostPort, since a surge pod can never bind next to the old pod holding the port (the
 * scheduler's NodePorts filter) and upstream's rollout then waits forever (kubernetes#106417).
 */
export const allowsSurge = (ds: V1DaemonSet): boolean => surgeCount(ds, 1) > 0 && !usesHostPort(ds);

export interface RolloutLimits {
  maxSurge: number;
  maxUnavailable: number;
  desired: number;
}

/**
 * updatedDesiredNodeCounts: the limits scaled to the nodes that should run a pod; both 0 →
 * maxUnavailable 1. With a hostPort, maxSurge becomes 0 (replace delete-first, within
 * maxUnavailable, at least one at a time).
 */
export function rolloutLimits(ctx: SyncContext): RolloutLimits {
  const desired = ctx.nodes.filter((n) => placementOf(ctx, nodeNameOf(n)).shouldRun).length;
  let maxSurge = surgeCount(ctx.ds, desired);
  if (usesHostPort(ctx.ds)) maxSurge = 0;
  let maxUnavailable = unavailableCount(ctx.ds, desired);
  if (desired > 0 && maxUnavailable === 0 && maxSurge === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable, desired };
}

/**
 * findUpdatedPodsOnNode: the node's live updated and old pod, or undefined when
 * it has more than one of either (manage prunes those first).
 */
function updatedAndOldPod(
  ctx: SyncContext,
  pods: readonly V1Pod[],
): { newPod?: V1Pod; oldPod?: V1Pod } | undefined {
  let newPod: V1Pod | undefined;
  let oldPod: V1Pod | undefined;
  for (const pod of pods) {
    if (isTerminating(pod)) continue;
    if (isPodUpdated(pod, ctx.hash, ctx.generation)) {
      if (newPod) return undefined;
      newPod = pod;
    } else {
      if (oldPod) return undefined;
      oldPod = pod;
    }
  }
  return { newPod, oldPod };
}

/**
 * Nodes the rollout looks at, in a stable order: every node that should run a
 * pod or has one, snapshot order first, then nodes that only pods still name.
 * (Upstream walks a Go map, i.e. in random order.) With `order`, its nodes come
 * first in that order and the rest follow in the order above.
 */
function rolloutNodes(ctx: SyncContext, order?: readonly string[]): Array<[string, V1Pod[]]> {
  const out: Array<[string, V1Pod[]]> = [];
  const looksAt = (name: string) => ctx.pods.byNode.has(name) || placementOf(ctx, name).shouldRun;
  const first = new Set<string>();
  for (const name of order ?? []) {
    if (first.has(name) || !looksAt(name)) continue;
    first.add(name);
    out.push([name, ctx.pods.byNode.get(name) ?? []]);
  }
  for (const node of ctx.nodes) {
    const name = nodeNameOf(node);
    if (!first.has(name) && looksAt(name)) out.push([name, ctx.pods.byNode.get(name) ?? []]);
  }
  // ctx.placement has every existing node: the rest are nodes only pods still name.
  const gone = [...ctx.pods.byNode.keys()].filter((n) => !ctx.placement.has(n) && !first.has(n)).sort();
  for (const name of gone) out.push([name, ctx.pods.byNode.get(name) ?? []]);
  return out;
}

export interface RolloutStep {
  createNodes: string[];
  deletes: PodDelete[];
  events: PlannedEvent[];
}

/**
 * upstream rollingUpdate, run only when manage had nothing to do.
 *
 * maxSurge == 0: a node counts as unavailable when it has no pod, both an old and
 * a new pod, excess pods, or a new pod that is not available. Old pods that are
 * not available are always replaced (deleted) and count as unavailable; then
 * available old pods are deleted while fewer than maxUnavailable nodes are
 * unavailable. manage creates the replacements on the next sync.
 *
 * maxSurge > 0: a node with only an old pod gets a new pod at once when the old
 * one is not available, else it is a candidate while fewer than maxSurge new
 * pods are still becoming available; a node whose new pod is available loses
 * its old pod. On nodes that should no longer run the pod, an unavailable old
 * pod goes at once and available ones only while more pods are available than
 * desired (kubernetes PR #119317), so availability never drops.
 */
export function rollingUpdate(ctx: SyncContext, gate: ReplaceGate = OPEN_GATE): RolloutStep {
  const { maxSurge, maxUnavailable, desired } = rolloutLimits(ctx);
  const events: PlannedEvent[] = [];
  const dead = (nodeName: string) => gate.dead.has(nodeName);
  const now = ctx.now;
  const available = (pod: V1Pod) => isPodAvailable(pod, ctx.minReadySeconds, now);
  const deleteOf = (pod: V1Pod, nodeName: string, reason: string): PodDelete => ({
    name: podName(pod),
    uid: pod.metadata?.uid ?? '',
    nodeName,
    reason,
  });

  if (maxSurge === 0) {
    let numUnavailable = 0;
    const allowedReplacements: PodDelete[] = [];
    const candidates: PodDelete[] = [];
    const deadReplacements: PodDelete[] = [];
    for (const [nodeName, pods] of rolloutNodes(ctx, gate.order)) {
      const found = updatedAndOldPod(ctx, pods);
      // everynode: a dead node's pods never count against the budget (kubernetes#123232, test-infra#31706).
      const countUnavailable = () => {
        if (!dead(nodeName)) numUnavailable++;
      };
      if (!found) {
        countUnavailable();
        continue;
      }
      const { newPod, oldPod } = found;
      if ((!oldPod && !newPod) || (oldPod && newPod)) {
        countUnavailable();
      } else if (newPod) {
        if (!available(newPod)) countUnavailable();
      } else if (oldPod) {
        if (!gate.mayReplace(nodeName)) continue; // held: kept as it is, outside the budget
        if (dead(nodeName)) {
          deadReplacements.push(deleteOf(oldPod, nodeName, 'rolling-update'));
        } else if (!available(oldPod)) {
          allowedReplacements.push(deleteOf(oldPod, nodeName, 'rolling-update'));
          numUnavailable++;
        } else if (numUnavailable < maxUnavailable) {
          candidates.push(deleteOf(oldPod, nodeName, 'rolling-update'));
        }
      }
    }
    const remaining = Math.min(Math.max(0, maxUnavailable - numUnavailable), candidates.length);
    const deletes = [...allowedReplacements, ...candidates.slice(0, remaining), ...deadReplacements];
    if (deletes.length > 0 && surgeCount(ctx.ds, desired) > 0 && usesHostPort(ctx.ds)) {
      events.push({
        type: 'Warning',
        reason: 'SurgeNotPossible',
        message:
          'maxSurge is set but the pod template uses a hostPort: a surge pod could never bind next to the old ' +
          'pod holding the port, so pods are replaced delete-first, within maxUnavailable (at least one at a time)',
      });
    }
    return { createNodes: [], deletes, events };
  }

  const deletes: PodDelete[] = [];
  const shouldNotRunDeletes: PodDelete[] = [];
  const candidateNodes: string[] = [];
  const allowedNodes: string[] = [];
  let numSurge = 0;
  let numAvailable = 0;
  for (const [nodeName, pods] of rolloutNodes(ctx, gate.order)) {
    const found = updatedAndOldPod(ctx, pods);
    if (!found) {
      if (!dead(nodeName)) numSurge++;
      continue;
    }
    const { newPod, oldPod } = found;
    if (oldPod ? available(oldPod) : newPod ? available(newPod) : false) numAvailable++;
    if (!oldPod) continue;
    if (!newPod) {
      const shouldRun = placementOf(ctx, nodeName).shouldRun;
      // A dead node (tainted not-ready, so it should not run a pod) is held like any other.
      if ((shouldRun || dead(nodeName)) && !gate.mayReplace(nodeName)) continue; // held
      if (dead(nodeName)) {
        // A surge pod could never start on a dead node: replace it delete-first, last.
        deletes.push(deleteOf(oldPod, nodeName, 'rolling-update'));
      } else if (!available(oldPod)) {
        if (!shouldRun) deletes.push(deleteOf(oldPod, nodeName, 'misscheduled'));
        else allowedNodes.push(nodeName);
      } else if (!shouldRun) {
        shouldNotRunDeletes.push(deleteOf(oldPod, nodeName, 'misscheduled'));
      } else if (numSurge < maxSurge) {
        candidateNodes.push(nodeName);
      }
      continue;
    }
    if (!available(newPod)) {
      if (!dead(nodeName)) numSurge++;
      continue;
    }
    if (gate.mayReplace(nodeName)) deletes.push(deleteOf(oldPod, nodeName, 'surge-replaced'));
  }
  const deletable = Math.min(numAvailable - desired, shouldNotRunDeletes.length);
  if (deletable > 0) deletes.push(...shouldNotRunDeletes.slice(0, deletable));
  const remainingSurge = Math.min(Math.max(0, maxSurge - numSurge), candidateNodes.length);
  return { createNodes: [...allowedNodes, ...candidateNodes.slice(0, remainingSurge)], deletes, events };
}

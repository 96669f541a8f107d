// The planner: one DaemonSet sync (upstream syncDaemonSet) as a pure function
// from a snapshot of the informer caches to the changes the executor makes.
import type { V1DaemonSet } from '@kubernetes/client-node';
import { cleanupHistory, constructHistory, emptyHistory } from './history.ts';
import { manage } from './manage.ts';
import { newPod } from './pod-template.ts';
import { rollingUpdate } from './rolling-update.ts';
import { computeHash } from './hash.ts';
import { computeStatus } from './status.ts';
import { buildSyncContext } from './sync-context.ts';
import type { HistoryPlan, Plan, PlannedEvent, PodCreate, PodDelete, Snapshot } from './types.ts';

/** upstream: a selector equal to `{}` selects every pod in the namespace; refuse to manage that. */
export function selectsAllPods(ds: V1DaemonSet): boolean {
  const selector = ds.spec?.selector;
  return (
    Object.keys(selector?.matchLabels ?? {}).length === 0 && (selector?.matchExpressions ?? []).length === 0
  );
}

/**
 * Plan one sync of `snapshot.ds`, in upstream's order:
 * 1. an empty selector → Warning SelectingAll, skipped;
 * 2. being deleted → skipped (the garbage collector removes its pods);
 * 3. history (constructHistory) → the current hash; a hash collision → skipped;
 * 4. expectations not yet satisfied → status only, observedGeneration untouched;
 * 5. otherwise manage; then, if manage changed nothing (upstream re-checks
 *    expectations, which any create or delete leaves unsatisfied) and the
 *    strategy is RollingUpdate, the rolling update; old-revision cleanup; status
 *    with observedGeneration.
 * Creates and deletes are each capped at snapshot.burst (upstream burstReplicas).
 * When skipped, the history plan carries no operations and nothing else is done.
 */
export function planDaemonSet(snapshot: Snapshot): Plan {
  const { ds } = snapshot;
  if (selectsAllPods(ds)) {
    return skippedPlan(ds, 'selecting-all', [
      {
        type: 'Warning',
        reason: 'SelectingAll',
        message: 'This daemon set is selecting all pods. A non-empty selector is required.',
      },
    ]);
  }
  if (ds.metadata?.deletionTimestamp) return skippedPlan(ds, 'deleting', []);

  const { history, hash, old } = constructHistory(ds, snapshot.revisions, snapshot.pods);
  if (history.collision) {
    return { ...emptyPlan(history), skipped: 'collision' };
  }

  const ctx = buildSyncContext(snapshot, hash);
  if (!snapshot.expectationsSatisfied) {
    const status = computeStatus(ctx, false);
    return { ...emptyPlan(history), status: status.status, requeueAfterMs: status.requeueAfterMs };
  }

  const managed = manage(ctx, snapshot.failedPodBackoff);
  let createNodes = managed.createNodes;
  let deletes: PodDelete[] = managed.deletes;
  const updateType = ds.spec?.updateStrategy?.type ?? 'RollingUpdate';
  if (createNodes.length === 0 && deletes.length === 0 && updateType === 'RollingUpdate') {
    const step = rollingUpdate(ctx);
    createNodes = step.createNodes;
    deletes = step.deletes;
  }
  history.deleteOld = cleanupHistory(ds, old, snapshot.pods);
  const status = computeStatus(ctx, true);

  const burst = Math.max(0, snapshot.burst);
  const creates: PodCreate[] = createNodes
    .slice(0, burst)
    .map((nodeName) => ({ nodeName, pod: newPod(ds, nodeName, hash, ctx.generation) }));
  return {
    history,
    creates,
    deletes: deletes.slice(0, burst),
    events: managed.events,
    status: status.status,
    backoffUpdates: managed.backoffUpdates,
    requeueAfterMs: minDefined(managed.requeueAfterMs, status.requeueAfterMs),
  };
}

function emptyPlan(history: HistoryPlan): Plan {
  return {
    history,
    creates: [],
    deletes: [],
    events: [],
    status: undefined,
    backoffUpdates: [],
    requeueAfterMs: undefined,
  };
}

function skippedPlan(ds: V1DaemonSet, skipped: 'deleting' | 'selecting-all', events: PlannedEvent[]): Plan {
  // No revision work for a DaemonSet we do not sync; `current` only names what its hash would be.
  const hash = computeHash(ds.spec?.template, ds.status?.collisionCount);
  const history = emptyHistory({ name: `${ds.metadata?.name ?? ''}-${hash}`, hash });
  return { ...emptyPlan(history), events, skipped };
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

// The planner: one DaemonSet sync (upstream syncDaemonSet) as a pure function
// from a snapshot of the informer caches to the changes the executor makes.
// Nothing here (or in the files it imports) may do I/O: eslint enforces it.
import type { V1DaemonSet, V1Pod } from '@kubernetes/client-node';
import {
  APPS_V1_DAEMONSET,
  daemonOwnerRef,
  timeMillis,
  type DaemonOwnerKind,
} from '../contract/daemon-pod.ts';
import { labelSelectorMatches } from '../machinery/label-selector.ts';
import { decideClaims, type ClaimableObject } from './claims.ts';
import { cleanupHistory, constructHistory, emptyHistory } from './history.ts';
import { manage } from './manage.ts';
import { newPod } from './pod-template.ts';
import { reservedSelectorProblem, reservedTemplateLabelWarnings } from './reserved-labels.ts';
import { resolveRolloutSettings } from './rollout-settings.ts';
import { planRolloutControl } from './rollout-control.ts';
import { replaceInPlace, withInPlaceInFlight } from './in-place.ts';
import { rollingUpdate } from './rolling-update.ts';
import { computeHash } from './hash.ts';
import { computeStatus } from './status.ts';
import { buildSyncContext, placementOf, type SyncContext } from './sync-context.ts';
import type {
  ClaimPatch,
  ClaimsPlan,
  HistoryPlan,
  Plan,
  PlannedEvent,
  PodCreate,
  PodDelete,
  PodInPlaceUpdate,
  Snapshot,
} from './types.ts';

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
 * 2b. (everynode) a selector the controller's reserved labels can never satisfy → Warning
 *    ReservedLabelConflict, skipped: every pod created would be released at once;
 * 2c. claims (ClaimPods / ClaimControllerRevisions): adopt matching orphans, release owned objects
 *    that stopped matching; the rest of the plan counts them as done;
 * 3. history (constructHistory) → the current hash; a hash collision → skipped;
 * 4. expectations (creates and deletes) not yet satisfied → status only, observedGeneration
 *    untouched; (everynode) pods whose in-place patch is in flight are planned as the patch
 *    leaves them (restarting, so within maxUnavailable and not picked again), without waiting;
 * 5. otherwise manage; then, if manage changed nothing (upstream re-checks
 *    expectations, which any create or delete leaves unsatisfied) and the
 *    strategy is RollingUpdate, the rolling update; old-revision cleanup; status
 *    with observedGeneration.
 * Creates and deletes are each capped at snapshot.burst (upstream burstReplicas), and creates go
 * only to distinct nodes that should run a pod, with pods the selector matches, whatever else
 * decided them (boundCreates): no sync ever creates more pods than there are such nodes.
 * When skipped, the history plan carries no operations and nothing else is done.
 */
export function planDaemonSet(snapshot: Snapshot): Plan {
  const { ds } = snapshot;
  const ownerKind = snapshot.ownerKind ?? APPS_V1_DAEMONSET;
  if (selectsAllPods(ds)) {
    return skippedPlan(ds, ownerKind, 'selecting-all', [
      {
        type: 'Warning',
        reason: 'SelectingAll',
        message: 'This daemon set is selecting all pods. A non-empty selector is required.',
      },
    ]);
  }
  if (ds.metadata?.deletionTimestamp) return skippedPlan(ds, ownerKind, 'deleting', []);
  const reserved = reservedSelectorProblem(ds);
  if (reserved !== undefined) {
    return skippedPlan(ds, ownerKind, 'reserved-label', [
      { type: 'Warning', reason: 'ReservedLabelConflict', message: `${reserved}; no pod is created` },
    ]);
  }

  const claimed = planClaims(snapshot, ownerKind);
  const pods = claimed.pods;
  const { history, hash, old } = constructHistory(ds, claimed.revisions, pods, ownerKind);
  if (history.collision) {
    return { ...emptyPlan(history, ds, ownerKind), claims: claimed.plan, skipped: 'collision' };
  }

  const ctx = buildSyncContext(
    { ...snapshot, pods: withInPlaceInFlight(pods, snapshot.inPlaceInFlight), revisions: claimed.revisions },
    hash,
  );
  if (!snapshot.expectationsSatisfied) {
    const status = computeStatus(ctx, false);
    return {
      ...emptyPlan(history, ds, ownerKind),
      claims: claimed.plan,
      status: status.status,
      requeueAfterMs: status.requeueAfterMs,
    };
  }

  const updateType = ds.spec?.updateStrategy?.type ?? 'RollingUpdate';
  // everynode's own kind carries the settings as typed fields and always reports its conditions.
  const ownKind = ownerKind !== APPS_V1_DAEMONSET;
  const rollout = resolveRolloutSettings(ds, snapshot.lastValidRollout, ownKind);
  const currentRevision = claimed.revisions.find((r) => r.metadata?.name === history.current.name);
  const control =
    updateType === 'RollingUpdate'
      ? planRolloutControl({
          ctx,
          settings: rollout.settings,
          heldBecause: rollout.heldBecause,
          reportConditions: ownKind,
          revision: {
            name: history.current.name,
            createdAtMs: timeMillis(currentRevision?.metadata?.creationTimestamp) ?? snapshot.now,
          },
        })
      : undefined;

  const managed = manage(ctx, snapshot.failedPodBackoff);
  let createNodes = managed.createNodes;
  // A surge step completes by deleting the old pod: not while the rollout is held there.
  let deletes: PodDelete[] = managed.deletes.filter(
    (d) => d.reason !== 'surge-replaced' || !control || control.gate.mayReplace(d.nodeName ?? ''),
  );
  const events = [...rollout.events, ...managed.events];
  let inPlaceUpdates: PodInPlaceUpdate[] = [];
  if (control && createNodes.length === 0 && deletes.length === 0) {
    const step = rollingUpdate(ctx, control.gate);
    createNodes = step.createNodes;
    deletes = step.deletes;
    events.push(...step.events);
    if (rollout.settings.updateMode === 'InPlaceIfPossible') {
      const inPlace = replaceInPlace(ctx, deletes, claimed.revisions, snapshot.inPlaceRefused);
      deletes = inPlace.deletes;
      inPlaceUpdates = inPlace.updates;
      events.push(...inPlace.events);
      // Only the surge path of the rolling update creates pods.
      if (createNodes.length > 0) {
        events.push({
          type: 'Normal',
          reason: 'InPlaceUpdateNotPossible',
          message:
            'maxSurge is set, so pods are replaced surge-first (a new pod beside the old one) rather than in ' +
            'place; set maxSurge to 0 to update them in place within maxUnavailable',
        });
      }
    }
  }
  if (control) events.push(...control.events);
  history.deleteOld = cleanupHistory(ds, old, pods);
  const status = computeStatus(ctx, true, control?.conditions);

  const burst = Math.max(0, snapshot.burst);
  const planned = createNodes.map((nodeName) => ({
    nodeName,
    pod: newPod(ds, nodeName, hash, ctx.generation, {
      ownerKind,
      networkUnavailable: ctx.networkUnavailable,
    }),
  }));
  const bounded = boundCreates(ctx, planned);
  const creates = bounded.slice(0, burst);
  const unselected = planned.filter((c) => !labelSelectorMatches(ds.spec?.selector, c.pod.metadata?.labels));
  if (unselected.length > 0) {
    events.push({
      type: 'Warning',
      reason: 'SelectorMismatch',
      message:
        'spec.selector does not select the pods spec.template describes (their labels), so no pod is created; ' +
        'make spec.selector match spec.template.metadata.labels',
    });
  }
  if (creates.length > 0) events.push(...reservedTemplateLabelWarnings(ds));
  return {
    claims: claimed.plan,
    history,
    creates,
    deletes: deletes.slice(0, burst),
    inPlaceUpdates: inPlaceUpdates.slice(0, burst),
    events,
    status: status.status,
    backoffUpdates: managed.backoffUpdates,
    requeueAfterMs: minDefined(
      minDefined(managed.requeueAfterMs, status.requeueAfterMs),
      control?.requeueAfterMs,
    ),
    ...(rollout.valid ? { rolloutSettings: rollout.settings } : {}),
  };
}

/**
 * The last word on creates, whatever decided them: at most one per node, only on nodes that
 * should run a daemon pod, and only pods the DaemonSet's selector matches (a pod it does not
 * match would be released at once and replaced by the next sync, forever).
 */
export function boundCreates(ctx: SyncContext, creates: readonly PodCreate[]): PodCreate[] {
  const seen = new Set<string>();
  const selector = ctx.ds.spec?.selector;
  return creates.filter(({ nodeName, pod }) => {
    if (seen.has(nodeName) || !placementOf(ctx, nodeName).shouldRun) return false;
    if (!labelSelectorMatches(selector, pod.metadata?.labels)) return false;
    seen.add(nodeName);
    return true;
  });
}

interface ClaimedObjects {
  plan: ClaimsPlan;
  pods: V1Pod[];
  revisions: Snapshot['revisions'];
}

/** Claims for pods and revisions, and what the DaemonSet controls once they are done. */
function planClaims(snapshot: Snapshot, ownerKind: DaemonOwnerKind): ClaimedObjects {
  const { ds } = snapshot;
  const claimer = {
    uid: ds.metadata?.uid ?? '',
    namespace: ds.metadata?.namespace ?? '',
    selector: ds.spec?.selector,
    deleting: Boolean(ds.metadata?.deletionTimestamp),
    ownerRef: daemonOwnerRef(ownerKind, ds),
  };
  const pods = decideClaims(claimer, snapshot.pods, snapshot.orphanPods ?? []);
  const revisions = decideClaims(claimer, snapshot.revisions, snapshot.orphanRevisions ?? []);
  const patch =
    (resource: ClaimPatch['resource']) =>
    (obj: ClaimableObject): ClaimPatch => ({
      resource,
      namespace: obj.metadata?.namespace ?? claimer.namespace,
      name: obj.metadata?.name ?? '',
      uid: obj.metadata?.uid ?? '',
    });
  return {
    plan: {
      ownerRef: claimer.ownerRef,
      adopt: [...pods.adopt.map(patch('pods')), ...revisions.adopt.map(patch('controllerrevisions'))],
      release: [...pods.release.map(patch('pods')), ...revisions.release.map(patch('controllerrevisions'))],
    },
    pods: pods.controlled,
    revisions: revisions.controlled,
  };
}

const noClaims = (ds: V1DaemonSet, ownerKind: DaemonOwnerKind): ClaimsPlan => ({
  ownerRef: daemonOwnerRef(ownerKind, ds),
  adopt: [],
  release: [],
});

function emptyPlan(history: HistoryPlan, ds: V1DaemonSet, ownerKind: DaemonOwnerKind): Plan {
  return {
    claims: noClaims(ds, ownerKind),
    history,
    creates: [],
    deletes: [],
    inPlaceUpdates: [],
    events: [],
    status: undefined,
    backoffUpdates: [],
    requeueAfterMs: undefined,
  };
}

function skippedPlan(
  ds: V1DaemonSet,
  ownerKind: DaemonOwnerKind,
  skipped: 'deleting' | 'selecting-all' | 'reserved-label',
  events: PlannedEvent[],
): Plan {
  // No revision work for a DaemonSet we do not sync; `current` only names what its hash would be.
  const hash = computeHash(ds.spec?.template, ds.status?.collisionCount);
  const history = emptyHistory({ name: `${ds.metadata?.name ?? ''}-${hash}`, hash });
  return { ...emptyPlan(history, ds, ownerKind), events, skipped };
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

// One DaemonSet sync (upstream syncDaemonSet's frame): read a Snapshot from the
// informer caches and the expectations in one synchronous step, plan it with
// the pure planner, and hand the plan to the executor, which performs every
// write. This is the reconcile function the generic ReconcileLoop runs.
import type { V1DaemonSet } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  APPS_V1_DAEMONSET,
  apiVersionOf,
  type DaemonOwnerKind,
  type NetworkUnavailableMode,
} from '../contract/daemon-pod.ts';
import type { EventRecorder } from '../machinery/events.ts';
import type { KubeClient } from '../machinery/kube.ts';
import type { RolloutSettings } from '../contract/rollout.ts';
import type { FailedPodBackoff } from './backoff.ts';
import { BY_CONTROLLER, orphansOf, type DaemonSetCaches } from './caches.ts';
import { executePlan, type DetachedWrites, type InPlaceRefusals, type StatusWrites } from './executor.ts';
import type { ControllerExpectations } from './expectations.ts';
import { planDaemonSet, selectsAllPods } from './plan.ts';
import type { Snapshot } from './types.ts';

export interface SyncDeps {
  client: KubeClient;
  caches: DaemonSetCaches;
  expectations: ControllerExpectations;
  failedPodBackoff: FailedPodBackoff;
  /** Last valid rollout settings per DaemonSet UID (used while an annotation is invalid). */
  rolloutSettings: Map<string, RolloutSettings>;
  events: EventRecorder;
  logger: Logger;
  /** Creates/deletes per sync (upstream burstReplicas). */
  burst: number;
  networkUnavailable: NetworkUnavailableMode;
  ownerKind?: DaemonOwnerKind;
  /** In-place updates the API server refused: the planner recreates those pods instead. */
  inPlaceRefused?: InPlaceRefusals;
  /** This controller's own status writes, newer than the informer until it catches up. */
  statusWrites?: StatusWrites;
  /** In-place patches outlive their sync: their failures and wake-ups go here (see DetachedWrites). */
  detached: DetachedWrites;
}

/** The snapshot of `ds` as the caches hold it now, or undefined when the DaemonSet is gone. */
export function readSnapshot(deps: SyncDeps, key: string): Snapshot | undefined {
  const { caches } = deps;
  const informed = caches.daemonSets.get(key);
  if (!informed) return undefined;
  const cached = deps.statusWrites ? deps.statusWrites.latest(informed) : informed;
  const kind = deps.ownerKind ?? APPS_V1_DAEMONSET;
  const ds: V1DaemonSet = { apiVersion: apiVersionOf(kind), kind: kind.kind, ...cached };
  const uid = ds.metadata?.uid ?? '';
  const namespace = ds.metadata?.namespace ?? '';
  // upstream returns before claiming for an everything-selector or a DaemonSet being deleted: no
  // orphans are offered then, so nothing could adopt every labelled pod of the namespace.
  const mayClaim = !selectsAllPods(ds) && !ds.metadata?.deletionTimestamp;
  return {
    ds,
    nodes: caches.nodes.list(),
    pods: caches.pods.byIndex(BY_CONTROLLER, uid),
    revisions: caches.revisions.byIndex(BY_CONTROLLER, uid),
    orphanPods: mayClaim ? caches.pods.byIndex(BY_CONTROLLER, orphansOf(namespace)) : [],
    orphanRevisions: mayClaim ? caches.revisions.byIndex(BY_CONTROLLER, orphansOf(namespace)) : [],
    ownerKind: kind,
    networkUnavailable: deps.networkUnavailable,
    now: Date.now(),
    expectationsSatisfied: deps.expectations.satisfied(key),
    inPlaceInFlight: deps.expectations.inPlaceInFlight(key),
    failedPodBackoff: deps.failedPodBackoff,
    burst: deps.burst,
    ...(deps.rolloutSettings.has(uid) ? { lastValidRollout: deps.rolloutSettings.get(uid) } : {}),
    ...(deps.inPlaceRefused ? { inPlaceRefused: deps.inPlaceRefused } : {}),
  };
}

/** Syncs one DaemonSet key; resolves to the requeue-after delay, if any. */
export async function syncDaemonSet(
  deps: SyncDeps,
  key: string,
  signal?: AbortSignal,
): Promise<number | undefined> {
  const started = performance.now();
  const snapshot = readSnapshot(deps, key);
  if (!snapshot) {
    deps.expectations.deleteExpectations(key);
    deps.logger.debug({ daemonset: key }, 'DaemonSet gone');
    return undefined;
  }
  const plan = planDaemonSet(snapshot);
  const result = await executePlan(
    {
      client: deps.client,
      expectations: deps.expectations,
      events: deps.events,
      failedPodBackoff: deps.failedPodBackoff,
      rolloutSettings: deps.rolloutSettings,
      ...(deps.inPlaceRefused ? { inPlaceRefused: deps.inPlaceRefused } : {}),
      ...(deps.statusWrites ? { statusWrites: deps.statusWrites } : {}),
      detached: deps.detached,
      logger: deps.logger,
      ...(signal ? { signal } : {}),
    },
    snapshot,
    plan,
  );
  deps.logger.debug(
    {
      daemonset: key,
      adopted: plan.claims.adopt.length,
      released: plan.claims.release.length,
      created: result.created,
      deleted: result.deleted,
      inPlaceSent: result.updatedInPlace,
      requeueAfterMs: result.requeueAfterMs,
      skipped: plan.skipped,
      ms: Math.round(performance.now() - started),
    },
    'synced',
  );
  return result.requeueAfterMs;
}

// DaemonSet status: upstream updateDaemonSetStatus + storeDaemonSetStatus.
import type { V1DaemonSetStatus } from '@kubernetes/client-node';
import { availableAtMs, isPodAvailable, isPodReady, isPodUpdated, sortPodsOldestFirst } from './pods.ts';
import { nodeNameOf, placementOf, type SyncContext } from './sync-context.ts';

export interface StatusCounters {
  desiredNumberScheduled: number;
  currentNumberScheduled: number;
  numberMisscheduled: number;
  numberReady: number;
  updatedNumberScheduled: number;
  numberAvailable: number;
  numberUnavailable: number;
}

export interface StatusResult {
  counters: StatusCounters;
  /** The status to write (a copy of the stored one with the counters set), undefined when nothing would change. */
  status: V1DaemonSetStatus | undefined;
  /** Sync again this soon to see Ready pods turn available (minReadySeconds). */
  requeueAfterMs: number | undefined;
}

/**
 * Per existing node: shouldRun counts as desired; with at least one pod it is
 * currently scheduled and its oldest pod (bound first, then oldest) decides
 * ready, available and updated. A node with pods that should not run one is
 * misscheduled. Pods of nodes that no longer exist do not count.
 */
export function countStatus(ctx: SyncContext): { counters: StatusCounters; readyNotAvailableAt: number[] } {
  let desired = 0;
  let current = 0;
  let misscheduled = 0;
  let ready = 0;
  let updated = 0;
  let available = 0;
  const readyNotAvailableAt: number[] = [];
  for (const node of ctx.nodes) {
    const name = nodeNameOf(node);
    const pods = ctx.pods.byNode.get(name) ?? [];
    if (!placementOf(ctx, name).shouldRun) {
      if (pods.length > 0) misscheduled++;
      continue;
    }
    desired++;
    const pod = sortPodsOldestFirst(pods)[0];
    if (!pod) continue;
    current++;
    if (isPodReady(pod)) {
      ready++;
      if (isPodAvailable(pod, ctx.minReadySeconds, ctx.now)) available++;
      else {
        const at = availableAtMs(pod, ctx.minReadySeconds);
        if (at !== undefined) readyNotAvailableAt.push(at);
      }
    }
    if (isPodUpdated(pod, ctx.hash, ctx.generation)) updated++;
  }
  return {
    counters: {
      desiredNumberScheduled: desired,
      currentNumberScheduled: current,
      numberMisscheduled: misscheduled,
      numberReady: ready,
      updatedNumberScheduled: updated,
      numberAvailable: available,
      numberUnavailable: desired - available,
    },
    readyNotAvailableAt,
  };
}

const COUNTER_FIELDS = [
  'desiredNumberScheduled',
  'currentNumberScheduled',
  'numberMisscheduled',
  'numberReady',
  'updatedNumberScheduled',
  'numberAvailable',
  'numberUnavailable',
] as const satisfies ReadonlyArray<keyof StatusCounters>;

/**
 * The status to store. observedGeneration becomes metadata.generation only when
 * `observeGeneration` (expectations satisfied: this generation was acted on).
 * Nothing is written when the counters are unchanged and either the stored
 * observedGeneration already covers the generation or it is not to be bumped
 * (upstream would rewrite an identical status in that case). Every other field
 * (conditions, collisionCount, anything newer) is copied unchanged.
 */
export function computeStatus(ctx: SyncContext, observeGeneration: boolean): StatusResult {
  const { counters, readyNotAvailableAt } = countStatus(ctx);
  const stored = ctx.ds.status ?? ({} as V1DaemonSetStatus);
  const generation = ctx.ds.metadata?.generation ?? 0;
  const storedObserved = stored.observedGeneration ?? 0;
  const countersUnchanged = COUNTER_FIELDS.every((f) => (stored[f] ?? 0) === counters[f]);

  let status: V1DaemonSetStatus | undefined;
  if (!countersUnchanged || (observeGeneration && storedObserved < generation)) {
    status = { ...structuredClone(stored), ...counters };
    if (observeGeneration) status.observedGeneration = generation;
  }

  let requeueAfterMs: number | undefined;
  if (ctx.minReadySeconds > 0 && counters.numberReady !== counters.numberAvailable) {
    // Upstream requeues after minReadySeconds; the earliest pod's own moment comes sooner when known.
    const earliest = Math.min(...readyNotAvailableAt.map((at) => Math.max(1, at - ctx.now)));
    requeueAfterMs = Math.min(ctx.minReadySeconds * 1000, earliest);
  }
  return { counters, status, requeueAfterMs };
}

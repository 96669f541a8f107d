// DaemonSet status: upstream updateDaemonSetStatus + storeDaemonSetStatus. The
// one place that decides which status fields the controller owns and how they
// are laid over the stored status (the executor's retry uses mergeStatus too).
import type { V1DaemonSetCondition, V1DaemonSetStatus } from '@kubernetes/client-node';
import { PROGRESSING } from '../contract/rollout.ts';
import { inPlacePending } from './in-place.ts';
import { mergeConditions } from './rollout-control.ts';
import { availableAtMs, isPodAvailable, isPodReady, isPodUpdated, isTerminating, oldestPod } from './pods.ts';
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
 * When each live, Ready but not yet available pod of the DaemonSet turns
 * available (minReadySeconds > 0). Every pod counts, not only the one status
 * reads per node: a surge pod beside an available old pod decides when the old
 * one may go, and no informer event marks that moment.
 */
function readyNotAvailableAt(ctx: SyncContext): number[] {
  if (ctx.minReadySeconds <= 0) return [];
  const out: number[] = [];
  for (const pods of ctx.pods.byNode.values()) {
    for (const pod of pods) {
      if (isTerminating(pod) || !isPodReady(pod) || isPodAvailable(pod, ctx.minReadySeconds, ctx.now))
        continue;
      const at = availableAtMs(pod, ctx.minReadySeconds);
      if (at !== undefined) out.push(at);
    }
  }
  return out;
}

/**
 * Per existing node: shouldRun counts as desired; with at least one pod it is
 * currently scheduled and its oldest pod (bound first, then oldest) decides
 * ready, available and updated. A node with pods that should not run one is
 * misscheduled. Pods of nodes that no longer exist do not count.
 */
export function countStatus(ctx: SyncContext): { counters: StatusCounters } {
  let desired = 0;
  let current = 0;
  let misscheduled = 0;
  let ready = 0;
  let updated = 0;
  let available = 0;
  for (const node of ctx.nodes) {
    const name = nodeNameOf(node);
    const pods = ctx.pods.byNode.get(name) ?? [];
    if (!placementOf(ctx, name).shouldRun) {
      if (pods.length > 0) misscheduled++;
      continue;
    }
    desired++;
    const pod = oldestPod(pods);
    if (!pod) continue;
    current++;
    if (isPodReady(pod)) {
      ready++;
      if (isPodAvailable(pod, ctx.minReadySeconds, ctx.now)) available++;
    }
    // everynode: a pod updated in place counts once the kubelet runs the new revision.
    if (isPodUpdated(pod, ctx.hash, ctx.generation) && !inPlacePending(pod)) updated++;
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
  };
}

/** The status fields the controller computes; everything else in status is left as stored. */
export const COUNTER_FIELDS = [
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
export function computeStatus(
  ctx: SyncContext,
  observeGeneration: boolean,
  conditions?: readonly V1DaemonSetCondition[],
): StatusResult {
  const { counters } = countStatus(ctx);
  const stored = ctx.ds.status ?? ({} as V1DaemonSetStatus);
  const generation = ctx.ds.metadata?.generation ?? 0;
  const storedObserved = stored.observedGeneration ?? 0;
  const countersUnchanged = COUNTER_FIELDS.every((f) => (stored[f] ?? 0) === counters[f]);

  const mergedConditions = conditions ? mergeConditions(stored.conditions, conditions, ctx.now) : undefined;
  const conditionsUnchanged =
    mergedConditions === undefined || sameConditions(mergedConditions, stored.conditions ?? []);
  let status: V1DaemonSetStatus | undefined;
  if (!countersUnchanged || !conditionsUnchanged || (observeGeneration && storedObserved < generation)) {
    status = mergeStatus(stored, {
      ...counters,
      ...(observeGeneration ? { observedGeneration: generation } : {}),
    });
    if (mergedConditions) {
      if (mergedConditions.length > 0) status.conditions = mergedConditions;
      else delete status.conditions;
    }
  }

  // Upstream requeues after minReadySeconds while numberReady != numberAvailable; everynode also
  // requeues for the earliest pod that turns available, whichever pod of its node it is.
  const pending = readyNotAvailableAt(ctx).map((at) => Math.max(1, at - ctx.now));
  if (ctx.minReadySeconds > 0 && counters.numberReady !== counters.numberAvailable) {
    pending.push(ctx.minReadySeconds * 1000);
  }
  const requeueAfterMs = pending.length > 0 ? Math.min(...pending) : undefined;
  return { counters, status, requeueAfterMs };
}

/**
 * The computed counters (and observedGeneration, when set) laid over `stored`:
 * conditions, collisionCount and any field a newer API adds stay as stored.
 */
export function mergeStatus(
  stored: V1DaemonSetStatus | undefined,
  computed: Partial<StatusCounters> & { observedGeneration?: number },
): V1DaemonSetStatus {
  const out = structuredClone(stored ?? {}) as V1DaemonSetStatus;
  for (const field of COUNTER_FIELDS) out[field] = computed[field] ?? 0;
  if (computed.observedGeneration !== undefined) out.observedGeneration = computed.observedGeneration;
  return out;
}

/** Field by field, in any key order (the API server's order is not ours), so an unchanged status is never rewritten. */
function sameConditions(a: readonly V1DaemonSetCondition[], b: readonly V1DaemonSetCondition[]): boolean {
  const key = (c: V1DaemonSetCondition) =>
    JSON.stringify([c.type, c.status, c.reason ?? '', c.message ?? '', String(c.lastTransitionTime ?? '')]);
  const ka = a.map(key).sort();
  const kb = b.map(key).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i]);
}

/**
 * everynode: counters-only status writes are coalesced to one per this interval per DaemonSet
 * (upstream writes after every sync that changed a counter: during a rollout that is several
 * writes per pod, each taking a token from the pod writes' budget).
 */
export const STATUS_COALESCE_MS = 1000;
/**
 * The interval while the client's pod writes queue for tokens (a reservation waited within
 * THROTTLED_WITHIN_MS): each counters-only status write then delays a pod write, and the rollout
 * moves at the pace of those. Settled status and condition changes are still written at once.
 */
export const STATUS_COALESCE_THROTTLED_MS = 5000;
export const THROTTLED_WITHIN_MS = 2000;

/** The coalescing interval for counters-only status writes, given whether the client is queueing for tokens. */
export const statusCoalesceMs = (throttled: boolean): number =>
  throttled ? STATUS_COALESCE_THROTTLED_MS : STATUS_COALESCE_MS;

/**
 * How long to hold back writing `next` over `stored`: 0 (write now) unless the last status write
 * was less than `intervalMs` ago and `next` changes nothing but the counters and the message of
 * the Progressing condition (its counts), on the way to a settled DaemonSet. Written at once: a
 * settled status (every desired pod updated and available: `kubectl rollout status` waits for it),
 * a new observedGeneration, a condition that appears, goes or changes status or reason, the wave
 * condition (its message is the wave), collisionCount, since the rollout's events are derived from
 * the stored conditions.
 */
export function statusWriteDelayMs(
  stored: V1DaemonSetStatus | undefined,
  next: V1DaemonSetStatus,
  lastWriteAtMs: number | undefined,
  now: number,
  intervalMs = STATUS_COALESCE_MS,
): number {
  if (lastWriteAtMs === undefined || settled(next)) return 0;
  const due = lastWriteAtMs + intervalMs - now;
  if (due <= 0 || !onlyCountsChange(stored ?? ({} as V1DaemonSetStatus), next)) return 0;
  return due;
}

/** Every desired pod scheduled, updated and available, nothing misscheduled: what a waiter waits for. */
function settled(s: V1DaemonSetStatus): boolean {
  const desired = s.desiredNumberScheduled;
  return (
    s.currentNumberScheduled === desired &&
    (s.updatedNumberScheduled ?? 0) === desired &&
    (s.numberAvailable ?? 0) === desired &&
    s.numberReady === desired &&
    s.numberMisscheduled === 0
  );
}

function onlyCountsChange(stored: V1DaemonSetStatus, next: V1DaemonSetStatus): boolean {
  const counters = new Set<string>(COUNTER_FIELDS);
  const keys = new Set([...Object.keys(stored), ...Object.keys(next)]);
  for (const key of keys) {
    if (counters.has(key) || key === 'conditions') continue;
    const a = (stored as unknown as Record<string, unknown>)[key];
    const b = (next as unknown as Record<string, unknown>)[key];
    if (JSON.stringify(a) !== JSON.stringify(b)) return false;
  }
  const before = stored.conditions ?? [];
  const after = next.conditions ?? [];
  if (before.length !== after.length) return false;
  // lastTransitionTime may be a string or a Date: compare as JSON.
  const same = (x: unknown, y: unknown) => JSON.stringify(x ?? '') === JSON.stringify(y ?? '');
  return after.every((c) => {
    const old = before.find((o) => o.type === c.type);
    if (!old) return false;
    return (
      same(old.status, c.status) &&
      same(old.reason, c.reason) &&
      same(old.lastTransitionTime, c.lastTransitionTime) &&
      (c.type === PROGRESSING || same(old.message, c.message))
    );
  });
}

// Failed-pod backoff, as client-go flowcontrol.Backoff configured by
// kube-controller-manager for the DaemonSet controller (NewBackOff(1s, 15m)),
// without jitter (upstream passes none). The one owner of the rule: the
// planner reads entries and proposes new ones (pure functions below), the
// executor stores them in a FailedPodBackoff, and the controller process calls
// its gc() every minute (upstream's failedPodsBackoff.GC in the DaemonSet
// controller's Run loop), which drops the entries hasExpired would ignore.
import type { V1DaemonSet } from '@kubernetes/client-node';
import type { BackoffEntry } from './types.ts';

export const FAILED_POD_BACKOFF_INITIAL_MS = 1_000;
export const FAILED_POD_BACKOFF_MAX_MS = 15 * 60_000;

/** upstream failedPodsBackoffKey: `<dsUID>/<status.observedGeneration>/<node>`. */
export const failedPodBackoffKey = (ds: V1DaemonSet, nodeName: string): string =>
  `${ds.metadata?.uid ?? ''}/${ds.status?.observedGeneration ?? 0}/${nodeName}`;

/** hasExpired: an entry untouched for more than twice the maximum is forgotten (Backoff.GC drops it). */
export const isBackoffExpired = (entry: BackoffEntry, now: number): boolean =>
  now - entry.lastUpdateMs > 2 * FAILED_POD_BACKOFF_MAX_MS;

/** Backoff.IsInBackOffSinceUpdate: less than the current duration has passed since the last failure. */
export const isInBackoff = (entry: BackoffEntry | undefined, now: number): boolean =>
  entry !== undefined && !isBackoffExpired(entry, now) && now - entry.lastUpdateMs < entry.durationMs;

/** How long until the entry's backoff ends (≥ 1 ms while in backoff). */
export const backoffRemainingMs = (entry: BackoffEntry, now: number): number =>
  Math.max(1, entry.durationMs - (now - entry.lastUpdateMs));

/** Backoff.Next: start at the initial duration (or again after expiry), else double up to the maximum. */
export function nextBackoff(entry: BackoffEntry | undefined, now: number): BackoffEntry {
  if (entry === undefined || isBackoffExpired(entry, now)) {
    return { durationMs: FAILED_POD_BACKOFF_INITIAL_MS, lastUpdateMs: now };
  }
  return { durationMs: Math.min(entry.durationMs * 2, FAILED_POD_BACKOFF_MAX_MS), lastUpdateMs: now };
}

/** The store of backoff entries (upstream's failedPodsBackoff): a Map the planner reads, plus GC. */
export class FailedPodBackoff extends Map<string, BackoffEntry> {
  /** Backoff.GC: forget entries untouched for more than twice the maximum. */
  gc(now: number): void {
    for (const [key, entry] of this) if (isBackoffExpired(entry, now)) this.delete(key);
  }
}

// Pod predicates the planner shares (upstream pkg/api/v1/pod and the
// daemon controller's pod ordering), over wire-JSON pods.
import type { V1DaemonSet, V1Pod, V1PodCondition } from '@kubernetes/client-node';
import {
  CONTROLLER_REVISION_HASH_LABEL,
  POD_TEMPLATE_GENERATION_LABEL,
  timeMillis,
} from '../contract/daemon-pod.ts';
import { inPlacePending } from './in-place.ts';

/** Annotation holding the DaemonSet's template generation (apps/v1 DeprecatedTemplateGeneration). */
export const TEMPLATE_GENERATION_ANNOTATION = 'deprecated.daemonset.template.generation';

export const isTerminating = (pod: V1Pod): boolean => Boolean(pod.metadata?.deletionTimestamp);

export const isTerminal = (pod: V1Pod): boolean =>
  pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded';

export const podName = (pod: V1Pod): string => pod.metadata?.name ?? '';

export const podHash = (pod: V1Pod): string | undefined =>
  pod.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL];

function readyCondition(pod: V1Pod): V1PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === 'Ready');
}

/** podutil.IsPodReady: the Ready condition is True. */
export const isPodReady = (pod: V1Pod): boolean => readyCondition(pod)?.status === 'True';

/**
 * podutil.IsPodAvailable: Ready, and either minReadySeconds is 0 or the Ready
 * condition turned true strictly more than minReadySeconds ago. A Ready
 * condition without lastTransitionTime is never available when minReadySeconds > 0.
 * everynode: a pod updated in place is not available until the kubelet has restarted it with
 * the new image (its Ready condition may still speak for the old container).
 */
export function isPodAvailable(pod: V1Pod, minReadySeconds: number, now: number): boolean {
  if (inPlacePending(pod)) return false;
  const since = readySinceMs(pod);
  if (since === null) return false;
  if (minReadySeconds <= 0) return true;
  return since !== undefined && since + minReadySeconds * 1000 < now;
}

/** When a Ready pod becomes available (ms), undefined if it never will by the clock alone. */
export function availableAtMs(pod: V1Pod, minReadySeconds: number): number | undefined {
  if (inPlacePending(pod)) return undefined;
  const since = readySinceMs(pod);
  if (since === null || since === undefined) return undefined;
  // Available once now > since + minReadySeconds, i.e. from the next millisecond on.
  return since + minReadySeconds * 1000 + 1;
}

/** readySinceMs per pod object and the conditions it read (see inPlacePending's cache for why). */
const readySinceByPod = new WeakMap<V1Pod, { conditions: unknown; since: number | undefined | null }>();

/** null when not Ready; the Ready transition time (undefined if absent) otherwise. */
function readySinceMs(pod: V1Pod): number | undefined | null {
  const conditions = pod.status?.conditions;
  const hit = readySinceByPod.get(pod);
  if (hit !== undefined && hit.conditions === conditions) return hit.since;
  const c = readyCondition(pod);
  const since = c?.status !== 'True' ? null : timeMillis(c.lastTransitionTime);
  readySinceByPod.set(pod, { conditions, since });
  return since;
}

/**
 * Upstream podByCreationTimestampAndPhase: pods bound to a node first, then the
 * oldest creationTimestamp, then the name. The first one is "the" pod of a node.
 */
export function comparePodsByCreationTimestampAndPhase(a: V1Pod, b: V1Pod): number {
  const aBound = Boolean(a.spec?.nodeName);
  const bBound = Boolean(b.spec?.nodeName);
  if (aBound !== bBound) return aBound ? -1 : 1;
  const ta = creationMillis(a);
  const tb = creationMillis(b);
  if (ta === tb) return podName(a) < podName(b) ? -1 : podName(a) > podName(b) ? 1 : 0;
  return ta < tb ? -1 : 1;
}

/** A missing creationTimestamp is Go's zero time: older than any real one. */
const creationMillis = (pod: V1Pod): number =>
  timeMillis(pod.metadata?.creationTimestamp) ?? Number.NEGATIVE_INFINITY;

export const sortPodsOldestFirst = (pods: readonly V1Pod[]): V1Pod[] =>
  [...pods].sort(comparePodsByCreationTimestampAndPhase);

/**
 * The first pod sortPodsOldestFirst would put first, among those `include` accepts (every pod by
 * default), without copying or sorting: the planner asks this per node on every sync.
 */
export function oldestPod(pods: readonly V1Pod[], include?: (pod: V1Pod) => boolean): V1Pod | undefined {
  let oldest: V1Pod | undefined;
  for (const pod of pods) {
    if (include && !include(pod)) continue;
    // Strictly older only: on a tie the earlier pod stays, as the stable sort keeps it.
    if (oldest === undefined || comparePodsByCreationTimestampAndPhase(pod, oldest) < 0) oldest = pod;
  }
  return oldest;
}

/**
 * util.GetTemplateGeneration: the annotation parsed as a base-10 int64 (Go
 * strconv.ParseInt), as its decimal string; undefined when absent or unparsable
 * (upstream treats a parse error like no generation).
 */
export function templateGeneration(ds: V1DaemonSet): string | undefined {
  const raw = ds.metadata?.annotations?.[TEMPLATE_GENERATION_ANNOTATION];
  if (raw === undefined || !/^[+-]?\d+$/.test(raw)) return undefined;
  const value = BigInt(raw);
  if (value > 0x7fffffffffffffffn || value < -0x8000000000000000n) return undefined;
  return value.toString();
}

/**
 * util.IsPodUpdated: the pod carries the current hash, or the current template generation. (A pod
 * updated in place carries the hash at once; status counts it updated only once it is done, see
 * status.ts.)
 */
export function isPodUpdated(pod: V1Pod, hash: string, generation: string | undefined): boolean {
  const labels = pod.metadata?.labels ?? {};
  const templateMatches = generation !== undefined && labels[POD_TEMPLATE_GENERATION_LABEL] === generation;
  const hashMatches = hash.length > 0 && labels[CONTROLLER_REVISION_HASH_LABEL] === hash;
  return hashMatches || templateMatches;
}

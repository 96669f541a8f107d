// `kubectl everynode rollout pause|resume|promote`, the decisions: from the
// DaemonSet as read → the patches to send and the line to print, in kubectl's
// `daemonset.apps/NAME <what>` form. For an apps/v1 DaemonSet: a merge patch of
// the annotations; for resume also a strategic-merge patch of the status
// subresource, which merges conditions by type and so keeps every other
// condition. For an everynode.dev DaemonSet (CRD mode): a merge patch of
// spec.rollout; for resume a merge patch of the status subresource with the
// whole conditions list (custom resources have no strategic merge) and the
// resourceVersion read, so a concurrent status write makes it fail with a
// Conflict instead of being lost. Pure.
import type { V1DaemonSet, V1DaemonSetCondition } from '@kubernetes/client-node';
import {
  AUTO_PAUSED,
  NODE_SELECTOR_ANNOTATION,
  PARTITION_ANNOTATION,
  PAUSED_ANNOTATION,
  REASON_RESUMED,
  parseRolloutSettings,
} from '../contract/rollout.ts';
import { displayName, refOfObject } from './resource.ts';
import { conditionRevision } from './rollout-status.ts';
import { isEverynodeDaemonSet, rolloutOf, shortNameOf, type AnyDaemonSet } from './rollout-settings.ts';

export interface EditPlan {
  /**
   * merge patch for the DaemonSet, if anything changes: metadata.annotations (apps/v1) or
   * spec.rollout (everynode.dev).
   */
  patch?:
    | { metadata: { annotations: Record<string, string | null> } }
    | { spec: { rollout: Record<string, unknown> } };
  /** patch for the status subresource, if a condition changes; of type `statusPatchType`. */
  statusPatch?: {
    metadata?: { resourceVersion: string };
    status: { conditions: V1DaemonSetCondition[] };
  };
  /** strategic (apps/v1: conditions merge by type) or merge (everynode.dev: the whole list). */
  statusPatchType?: 'strategic' | 'merge';
  /** What was done, for stdout. */
  line: string;
  /** Said on stderr as `Warning: …`. */
  warnings: string[];
}

const display = (ds: AnyDaemonSet) => displayName(refOfObject(ds));
const annotationsOf = (ds: V1DaemonSet) => ds.metadata?.annotations ?? {};
const isPaused = (ds: AnyDaemonSet) => rolloutOf(ds).settings.paused === true;

export function planPause(ds: AnyDaemonSet): EditPlan {
  if (isPaused(ds)) return { line: `${display(ds)} already paused`, warnings: [] };
  return {
    patch: isEverynodeDaemonSet(ds)
      ? { spec: { rollout: { paused: true } } }
      : { metadata: { annotations: { [PAUSED_ANNOTATION]: 'true' } } },
    line: `${display(ds)} paused`,
    warnings: [],
  };
}

/**
 * Resume: remove the paused annotation (any value but "false": an invalid one holds the rollout too),
 * and mark a True RolloutAutoPaused condition False/Resumed for the same revision, so the controller
 * does not judge that revision's pods again. `nowWire` is the lastTransitionTime to write.
 */
export function planResume(ds: AnyDaemonSet, nowWire: string, currentRevision?: string): EditPlan {
  const plan: EditPlan = { line: '', warnings: [] };
  const crd = isEverynodeDaemonSet(ds);
  if (crd) {
    // Only `paused: true` pauses a custom resource (the schema allows nothing but a boolean).
    if (ds.spec?.rollout?.paused === true) plan.patch = { spec: { rollout: { paused: null } } };
  } else {
    const raw = annotationsOf(ds)[PAUSED_ANNOTATION];
    if (raw !== undefined && raw.trim() !== 'false') {
      plan.patch = { metadata: { annotations: { [PAUSED_ANNOTATION]: null } } };
    }
  }
  const conditions = ds.status?.conditions ?? [];
  const auto = conditions.find((c) => c.type === AUTO_PAUSED);
  if (auto?.status === 'True') {
    const revision = conditionRevision(auto) ?? currentRevision;
    const resumed: V1DaemonSetCondition = {
      type: AUTO_PAUSED,
      status: 'False',
      reason: REASON_RESUMED,
      message: `${revision ? `revision ${revision}: ` : ''}resumed by kubectl everynode`,
      lastTransitionTime: nowWire as unknown as Date,
    };
    if (crd) {
      plan.statusPatch = {
        metadata: { resourceVersion: ds.metadata?.resourceVersion ?? '' },
        status: { conditions: conditions.map((c) => (c.type === AUTO_PAUSED ? resumed : c)) },
      };
      plan.statusPatchType = 'merge';
    } else {
      plan.statusPatch = { status: { conditions: [resumed] } };
      plan.statusPatchType = 'strategic';
    }
  }
  plan.line = plan.patch || plan.statusPatch ? `${display(ds)} resumed` : `${display(ds)} already resumed`;
  return plan;
}

/** The error for an invalid --partition (the contract's accepted forms), or undefined. */
export function partitionProblem(value: string): string | undefined {
  const { problems } = parseRolloutSettings({ [PARTITION_ANNOTATION]: value });
  const p = problems[0];
  return p ? `invalid argument "${value}" for "--partition" flag: ${p.message}` : undefined;
}

/**
 * Promote: without `partition`, remove the partition and node-selector annotations (the rollout
 * continues to every node); with it (already validated), set the partition, keeping any node selector.
 */
export function planPromote(ds: AnyDaemonSet, partition?: string): EditPlan {
  const warnings = isPaused(ds)
    ? [`the rollout is paused: nothing is replaced until kubectl everynode rollout resume ${shortNameOf(ds)}`]
    : [];
  if (isEverynodeDaemonSet(ds)) return planPromoteSpec(ds, partition, warnings);
  const a = annotationsOf(ds);
  if (partition !== undefined) {
    const before = a[PARTITION_ANNOTATION];
    if (before?.trim() === partition) {
      return { line: `${display(ds)} partition already ${partition}`, warnings };
    }
    return {
      patch: { metadata: { annotations: { [PARTITION_ANNOTATION]: partition } } },
      line: `${display(ds)} partition set to ${partition} (was ${before === undefined ? 'unset' : before})`,
      warnings,
    };
  }
  const removed: string[] = [];
  const annotations: Record<string, null> = {};
  if (a[PARTITION_ANNOTATION] !== undefined) {
    annotations[PARTITION_ANNOTATION] = null;
    removed.push(`the partition (${a[PARTITION_ANNOTATION]})`);
  }
  if (a[NODE_SELECTOR_ANNOTATION] !== undefined) {
    annotations[NODE_SELECTOR_ANNOTATION] = null;
    removed.push(`the node selector (${a[NODE_SELECTOR_ANNOTATION]})`);
  }
  if (removed.length === 0) {
    return { line: `${display(ds)} has no partition or node selector: nothing to promote`, warnings };
  }
  return {
    patch: { metadata: { annotations } },
    line: `${display(ds)} promoted: removed ${removed.join(' and ')}; the rollout continues to every node`,
    warnings,
  };
}

/** The partition as spec.rollout stores it: an integer, or a percentage string. */
export const partitionValue = (partition: string): number | string =>
  /^\d+$/.test(partition) ? Number(partition) : partition;

/** promote for an everynode.dev DaemonSet: the same decisions on spec.rollout.partition / nodeSelector. */
function planPromoteSpec(ds: AnyDaemonSet, partition: string | undefined, warnings: string[]): EditPlan {
  const { partitionText, nodeSelectorText } = rolloutOf(ds);
  const rollout = ds.spec?.rollout ?? {};
  if (partition !== undefined) {
    if (partitionText === partition) {
      return { line: `${display(ds)} partition already ${partition}`, warnings };
    }
    return {
      patch: { spec: { rollout: { partition: partitionValue(partition) } } },
      line: `${display(ds)} partition set to ${partition} (was ${partitionText ?? 'unset'})`,
      warnings,
    };
  }
  const removed: string[] = [];
  const patch: Record<string, null> = {};
  if (rollout.partition !== undefined) {
    patch.partition = null;
    removed.push(`the partition (${partitionText ?? ''})`);
  }
  if (rollout.nodeSelector !== undefined) {
    patch.nodeSelector = null;
    removed.push(`the node selector (${nodeSelectorText ?? ''})`);
  }
  if (removed.length === 0) {
    return { line: `${display(ds)} has no partition or node selector: nothing to promote`, warnings };
  }
  return {
    patch: { spec: { rollout: patch } },
    line: `${display(ds)} promoted: removed ${removed.join(' and ')}; the rollout continues to every node`,
    warnings,
  };
}

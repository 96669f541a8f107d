// `kubectl everynode rollout pause|resume|promote`, the decisions: from the
// DaemonSet as read → the patches to send (a merge patch of the annotations;
// for resume also a strategic-merge patch of the status subresource, which
// merges conditions by type and so keeps every other condition) and the line
// to print, in kubectl's `daemonset.apps/NAME <what>` form. Pure.
import type { V1DaemonSet, V1DaemonSetCondition } from '@kubernetes/client-node';
import {
  AUTO_PAUSED,
  NODE_SELECTOR_ANNOTATION,
  PARTITION_ANNOTATION,
  PAUSED_ANNOTATION,
  REASON_RESUMED,
  parseRolloutSettings,
} from '../contract/rollout.ts';
import { conditionRevision } from './rollout-status.ts';

export interface EditPlan {
  /** merge patch for the DaemonSet (metadata.annotations), if anything changes there. */
  patch?: { metadata: { annotations: Record<string, string | null> } };
  /** strategic-merge patch for the status subresource, if a condition changes. */
  statusPatch?: { status: { conditions: V1DaemonSetCondition[] } };
  /** What was done, for stdout. */
  line: string;
  /** Said on stderr as `Warning: …`. */
  warnings: string[];
}

const display = (ds: V1DaemonSet) => `daemonset.apps/${ds.metadata?.name ?? ''}`;
const annotationsOf = (ds: V1DaemonSet) => ds.metadata?.annotations ?? {};
const isPaused = (ds: V1DaemonSet) => annotationsOf(ds)[PAUSED_ANNOTATION]?.trim() === 'true';

export function planPause(ds: V1DaemonSet): EditPlan {
  if (isPaused(ds)) return { line: `${display(ds)} already paused`, warnings: [] };
  return {
    patch: { metadata: { annotations: { [PAUSED_ANNOTATION]: 'true' } } },
    line: `${display(ds)} paused`,
    warnings: [],
  };
}

/**
 * Resume: remove the paused annotation (any value but "false": an invalid one holds the rollout too),
 * and mark a True RolloutAutoPaused condition False/Resumed for the same revision, so the controller
 * does not judge that revision's pods again. `nowWire` is the lastTransitionTime to write.
 */
export function planResume(ds: V1DaemonSet, nowWire: string, currentRevision?: string): EditPlan {
  const plan: EditPlan = { line: '', warnings: [] };
  const raw = annotationsOf(ds)[PAUSED_ANNOTATION];
  if (raw !== undefined && raw.trim() !== 'false') {
    plan.patch = { metadata: { annotations: { [PAUSED_ANNOTATION]: null } } };
  }
  const auto = ds.status?.conditions?.find((c) => c.type === AUTO_PAUSED);
  if (auto?.status === 'True') {
    const revision = conditionRevision(auto) ?? currentRevision;
    plan.statusPatch = {
      status: {
        conditions: [
          {
            type: AUTO_PAUSED,
            status: 'False',
            reason: REASON_RESUMED,
            message: `${revision ? `revision ${revision}: ` : ''}resumed by kubectl everynode`,
            lastTransitionTime: nowWire as unknown as Date,
          },
        ],
      },
    };
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
export function planPromote(ds: V1DaemonSet, partition?: string): EditPlan {
  const a = annotationsOf(ds);
  const warnings = isPaused(ds)
    ? [
        `the rollout is paused: nothing is replaced until kubectl everynode rollout resume ds/${ds.metadata?.name ?? ''}`,
      ]
    : [];
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

// Which pods and ControllerRevisions a DaemonSet adopts and releases: upstream
// BaseControllerRefManager.ClaimObject (pkg/controller/controller_ref_manager.go)
// as a pure decision. The executor performs the PATCHes it plans; the planner
// then treats the adopted objects as owned and the released ones as gone.
import type { V1LabelSelector, V1OwnerReference } from '@kubernetes/client-node';
import { controllerRefOf } from '../contract/daemon-pod.ts';
import { labelSelectorMatches } from '../machinery/label-selector.ts';

export interface ClaimableObject {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    deletionTimestamp?: unknown;
    ownerReferences?: V1OwnerReference[];
  };
}

export interface Claimer {
  /** The owner's UID, namespace and selector. */
  uid: string;
  namespace: string;
  selector: V1LabelSelector | undefined;
  /** The owner is being deleted: it neither adopts nor releases. */
  deleting: boolean;
  /** The controller reference an adoption writes. */
  ownerRef: V1OwnerReference;
}

export interface ClaimDecision<T> {
  /** Orphans the owner's selector matches: each gets `ownerRef` (guarded by its uid). */
  adopt: T[];
  /** Owned objects the selector no longer matches: our reference is removed (guarded by its uid). */
  release: T[];
  /** What the owner controls once the claims are done: owned and kept, plus adopted (with the reference). */
  controlled: T[];
}

/**
 * ClaimObject for each candidate:
 * - controlled by another owner: ignored;
 * - controlled by us: kept when the selector matches, else released (unless we are being deleted,
 *   when it is neither kept nor released);
 * - an orphan: adopted when the selector matches, we are not being deleted, it is not being
 *   deleted and it is in our namespace.
 * `owned` are the objects whose controller reference has our UID; `orphans` those without a
 * controller reference (others are ignored either way).
 */
export function decideClaims<T extends ClaimableObject>(
  claimer: Claimer,
  owned: readonly T[],
  orphans: readonly T[],
): ClaimDecision<T> {
  const decision: ClaimDecision<T> = { adopt: [], release: [], controlled: [] };
  const matches = (obj: T) => labelSelectorMatches(claimer.selector, obj.metadata?.labels);
  for (const obj of owned) {
    if (controllerRefOf(obj)?.uid !== claimer.uid) continue;
    if (matches(obj)) decision.controlled.push(obj);
    else if (!claimer.deleting) decision.release.push(obj);
  }
  for (const obj of orphans) {
    if (controllerRefOf(obj) !== undefined) continue;
    if (claimer.deleting || !matches(obj) || obj.metadata?.deletionTimestamp) continue;
    if (claimer.namespace !== '' && (obj.metadata?.namespace ?? '') !== claimer.namespace) continue;
    decision.adopt.push(obj);
    decision.controlled.push(withControllerRef(obj, claimer.ownerRef));
  }
  return decision;
}

/** The object as it reads once adopted: `ref` appended to its owner references. */
function withControllerRef<T extends ClaimableObject>(obj: T, ref: V1OwnerReference): T {
  return {
    ...obj,
    metadata: { ...obj.metadata, ownerReferences: [...(obj.metadata?.ownerReferences ?? []), ref] },
  };
}

// ControllerRevision history: upstream constructHistory, dedupCurHistories,
// snapshot, Match/getPatch and cleanupHistory (pkg/controller/daemon/update.go),
// as a plan of revision operations instead of API calls.
import type { V1ControllerRevision, V1DaemonSet, V1Pod } from '@kubernetes/client-node';
import {
  APPS_V1_DAEMONSET,
  CONTROLLER_REVISION_HASH_LABEL,
  controllerRefOf,
  daemonOwnerRef,
  type DaemonOwnerKind,
} from '../contract/daemon-pod.ts';
import { goJsonMarshal } from './go-json.ts';
import { computeHash } from './hash.ts';
import { podHash, podName } from './pods.ts';
import type { HistoryPlan } from './types.ts';

/** apps/v1 default for spec.revisionHistoryLimit. */
export const DEFAULT_REVISION_HISTORY_LIMIT = 10;

/**
 * upstream getPatch: `{"spec":{"template":{"$patch":"replace",…template…}}}` as
 * Go's json.Marshal writes it for the generic map it builds (sorted keys, Go's
 * escapes, compact). The template is taken as served: the API server wrote it
 * with the same Go types upstream marshals, so defaulted fields are present and
 * empty omitempty fields absent, exactly as in upstream's bytes.
 */
export function getPatch(ds: V1DaemonSet): string {
  const template = (ds.spec?.template ?? {}) as Record<string, unknown>;
  return goJsonMarshal({ spec: { template: { ...template, $patch: 'replace' } } });
}

/**
 * The bytes of a revision's data. Revisions arrive parsed, so re-encode them the
 * Go way; for data that upstream or everynode wrote (sorted and compact) this
 * gives back the stored bytes.
 */
export const revisionData = (rev: V1ControllerRevision): string => goJsonMarshal(rev.data ?? null);

/** upstream Match: the revision's data equals getPatch(ds). */
export const matchesRevision = (patch: string, rev: V1ControllerRevision): boolean =>
  revisionData(rev) === patch;

/**
 * upstream snapshot's AlreadyExists branch: the revision that took the name is
 * ours to use only if it is controlled by this DaemonSet and Match-es its
 * template; anything else is a hash collision (bump status.collisionCount).
 * The planner's own collision check and the executor's both come here.
 */
export function isUsableExistingRevision(ds: V1DaemonSet, existing: V1ControllerRevision): boolean {
  return controllerRefOf(existing)?.uid === ds.metadata?.uid && matchesRevision(getPatch(ds), existing);
}

/** The revision's hash label; upstream labels a revision missing one with its own name. */
export const revisionHash = (rev: V1ControllerRevision): string =>
  rev.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL] ?? rev.metadata?.name ?? '';

const revisionName = (rev: V1ControllerRevision): string => rev.metadata?.name ?? '';
const revisionNumber = (rev: V1ControllerRevision): number => rev.revision ?? 0;

export interface ConstructedHistory {
  history: HistoryPlan;
  /** The hash new pods are labelled with (the current revision's hash label). */
  hash: string;
  /** Revisions not matching the current template, for cleanupHistory. */
  old: V1ControllerRevision[];
}

/** A history plan with no operations, for `current`. */
export function emptyHistory(current: HistoryPlan['current']): HistoryPlan {
  return {
    current,
    renumber: [],
    labelHash: [],
    deleteDuplicates: [],
    relabelPods: [],
    deleteOld: [],
    collision: false,
  };
}

/**
 * upstream constructHistory. Revisions whose data equals getPatch(ds) are
 * "current", the rest "old"; the current revision must carry number
 * max(old) + 1. No current one → snapshot a new `<ds>-<hash>` revision, unless a
 * revision of that name already exists with other data (a hash collision: the
 * executor bumps status.collisionCount and the next sync hashes differently).
 * Several current ones (duplicates) → keep the highest-numbered, relabel pods to
 * its hash and delete the rest. A current one numbered below max(old) + 1 (a
 * rollback to an earlier template) is renumbered, keeping its name and hash.
 */
export function constructHistory(
  ds: V1DaemonSet,
  revisions: readonly V1ControllerRevision[],
  pods: readonly V1Pod[],
  ownerKind: DaemonOwnerKind = APPS_V1_DAEMONSET,
): ConstructedHistory {
  const history = emptyHistory({ name: '', hash: '' });
  for (const rev of revisions) {
    if (rev.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL] === undefined) {
      history.labelHash.push({ name: revisionName(rev), hash: revisionName(rev) });
    }
  }

  const patch = getPatch(ds);
  const current: V1ControllerRevision[] = [];
  const old: V1ControllerRevision[] = [];
  for (const rev of revisions) (matchesRevision(patch, rev) ? current : old).push(rev);
  const nextRevision = old.reduce((max, rev) => Math.max(max, revisionNumber(rev)), 0) + 1;

  if (current.length === 0) {
    const hash = computeHash(ds.spec?.template, ds.status?.collisionCount);
    const name = `${ds.metadata?.name ?? ''}-${hash}`;
    history.current = { name, hash };
    // A revision of this name is never usable here (it is not current); see isUsableExistingRevision.
    if (revisions.some((rev) => revisionName(rev) === name)) {
      history.collision = true;
    } else {
      history.create = snapshotRevision(ds, name, hash, nextRevision, patch, ownerKind);
      history.createBody = revisionCreateBody(history.create, patch);
    }
    return { history, hash, old };
  }

  // dedupCurHistories: the last of the highest-numbered wins, as upstream's `>=` scan.
  let keep = current[0] as V1ControllerRevision;
  let keepNumber = 0;
  for (const rev of current) {
    if (revisionNumber(rev) >= keepNumber) {
      keep = rev;
      keepNumber = revisionNumber(rev);
    }
  }
  const hash = revisionHash(keep);
  if (current.length > 1) {
    for (const pod of pods) {
      if (podHash(pod) !== hash) history.relabelPods.push({ name: podName(pod), hash });
    }
    for (const rev of current) if (rev !== keep) history.deleteDuplicates.push(revisionName(rev));
  }
  if (keepNumber < nextRevision) history.renumber.push({ name: revisionName(keep), revision: nextRevision });
  history.current = { name: revisionName(keep), hash };
  return { history, hash, old };
}

/** upstream snapshot: the revision object for the current template. */
function snapshotRevision(
  ds: V1DaemonSet,
  name: string,
  hash: string,
  revision: number,
  patch: string,
  ownerKind: DaemonOwnerKind,
): V1ControllerRevision {
  const metadata: V1ControllerRevision['metadata'] = {
    name,
    namespace: ds.metadata?.namespace,
    labels: { ...(ds.spec?.template?.metadata?.labels ?? {}), [CONTROLLER_REVISION_HASH_LABEL]: hash },
    ownerReferences: [daemonOwnerRef(ownerKind, ds)],
  };
  if (ds.metadata?.annotations) metadata.annotations = { ...ds.metadata.annotations };
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata,
    data: JSON.parse(patch) as object,
    revision,
  };
}

/** The POST body for a new revision with `data` spliced in as the exact getPatch bytes. */
function revisionCreateBody(rev: V1ControllerRevision, patch: string): string {
  return (
    `{"apiVersion":"apps/v1","kind":"ControllerRevision","metadata":${JSON.stringify(rev.metadata)}` +
    `,"data":${patch},"revision":${rev.revision ?? 0}}`
  );
}

/**
 * upstream cleanupHistory: delete old revisions beyond spec.revisionHistoryLimit,
 * lowest revision first, sparing any whose hash a pod still carries (terminal and
 * terminating pods included).
 */
export function cleanupHistory(
  ds: V1DaemonSet,
  old: readonly V1ControllerRevision[],
  pods: readonly V1Pod[],
): string[] {
  let toKill = old.length - (ds.spec?.revisionHistoryLimit ?? DEFAULT_REVISION_HISTORY_LIMIT);
  if (toKill <= 0) return [];
  const liveHashes = new Set(pods.map(podHash).filter((h): h is string => Boolean(h)));
  const oldestFirst = [...old].sort(
    (a, b) => revisionNumber(a) - revisionNumber(b) || (revisionName(a) < revisionName(b) ? -1 : 1),
  );
  const deletes: string[] = [];
  for (const rev of oldestFirst) {
    if (toKill <= 0) break;
    if (liveHashes.has(revisionHash(rev))) continue;
    deletes.push(revisionName(rev));
    toKill--;
  }
  return deletes;
}

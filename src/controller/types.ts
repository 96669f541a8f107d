// The contract between the pure planner (plan.ts: snapshot → plan) and the
// executor that performs a plan against the API server. All objects are wire
// JSON as served (timestamps are strings).
import type {
  V1ControllerRevision,
  V1DaemonSet,
  V1DaemonSetStatus,
  V1Node,
  V1OwnerReference,
  V1Pod,
  V1ResourceRequirements,
} from '@kubernetes/client-node';
import type { DaemonOwnerKind, NetworkUnavailableMode } from '../contract/daemon-pod.ts';
import type { RolloutSettings } from '../contract/rollout.ts';

/** Everything the planner may look at. It never calls the API. */
export interface Snapshot {
  /** The DaemonSet as served (the informer's copy). */
  ds: V1DaemonSet;
  /** Every node in the cluster. */
  nodes: V1Node[];
  /** Pods of the DaemonSet's namespace that this DaemonSet controls (controller ownerRef UID == ds UID), terminating ones included. */
  pods: V1Pod[];
  /** ControllerRevisions this DaemonSet controls. */
  revisions: V1ControllerRevision[];
  /** Managed-label pods of the namespace without a controller reference: candidates for adoption (default none). */
  orphanPods?: V1Pod[];
  /** ControllerRevisions of the namespace without a controller reference (default none). */
  orphanRevisions?: V1ControllerRevision[];
  /** The DaemonSet's kind (default apps/v1 DaemonSet): the owner reference of its pods and revisions. */
  ownerKind?: DaemonOwnerKind;
  /** When daemon pods tolerate node.kubernetes.io/network-unavailable (`--network-unavailable`, default hostNetwork). */
  networkUnavailable?: NetworkUnavailableMode;
  /** Wall clock, milliseconds since the epoch. */
  now: number;
  /** False while earlier creates/deletes have not been observed in the informer caches yet. */
  expectationsSatisfied: boolean;
  /**
   * In-place patches sent (or waiting for a client token) whose result the cache does not show
   * yet, by pod UID: the planner sees those pods as the patch leaves them (default none).
   */
  inPlaceInFlight?: ReadonlyMap<string, PodInPlaceUpdate>;
  /** Failed-pod backoff state keyed `<dsUID>/<observedGeneration>/<node>` (upstream failedPodsBackoff). */
  failedPodBackoff: ReadonlyMap<string, BackoffEntry>;
  /** Burst cap for creates and deletes in one sync (upstream burstReplicas, `--burst`). */
  burst: number;
  /** The DaemonSet's last valid rollout settings, kept by the controller while an annotation is invalid. */
  lastValidRollout?: RolloutSettings;
  /** In-place updates the API server refused, keyed `<pod uid>/<revision hash>`: those pods are recreated. */
  inPlaceRefused?: ReadonlySet<string>;
}

export interface BackoffEntry {
  /** Current backoff duration in ms (1 s doubling to 15 min). */
  durationMs: number;
  /** Time of the last failure handled, ms since the epoch. */
  lastUpdateMs: number;
}

/** A pod to create: the full object to POST (generateName `<ds>-`, labels, annotation, ownerRef; never spec.nodeName). */
export interface PodCreate {
  nodeName: string;
  pod: V1Pod;
}

export interface PodDelete {
  name: string;
  uid: string;
  nodeName: string | undefined;
  /** Why, for logs: 'excess' | 'failed' | 'succeeded' | 'node-gone' | 'misscheduled' | 'rolling-update' | 'surge-replaced' | 'unpinned'. */
  reason: string;
}

/**
 * A pod moved to the update revision in place (update-mode InPlaceIfPossible): one strategic-merge
 * PATCH of the pod (labels, the in-place record, images; guarded by its uid), preceded by a PATCH of
 * its `resize` subresource when cpu/memory change.
 */
export interface PodInPlaceUpdate {
  name: string;
  uid: string;
  nodeName: string;
  /** The revision hash the pod moves to (its new controller-revision-hash label). */
  hash: string;
  patch: {
    metadata: { uid: string; labels: Record<string, string>; annotations: Record<string, string> };
    spec?: {
      containers?: Array<{ name: string; image: string }>;
      initContainers?: Array<{ name: string; image: string }>;
    };
  };
  resize?: { spec: { containers: Array<{ name: string; resources: V1ResourceRequirements }> } };
}

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** One adoption or release: a strategic-merge PATCH of the object's ownerReferences, guarded by its uid. */
export interface ClaimPatch {
  resource: 'pods' | 'controllerrevisions';
  namespace: string;
  name: string;
  uid: string;
}

/** Claims (upstream ClaimPods / ClaimControllerRevisions), performed first. */
export interface ClaimsPlan {
  /** The controller reference adoptions add. */
  ownerRef: V1OwnerReference;
  adopt: ClaimPatch[];
  release: ClaimPatch[];
}

/** History changes, applied by the executor in this order, before any pod change. */
export interface HistoryPlan {
  /** Name and hash of the revision the current template maps to. */
  current: { name: string; hash: string };
  /** Create this revision (it does not exist yet). On AlreadyExists the executor re-reads it: equal data → use it, else bump collisionCount. */
  create?: V1ControllerRevision;
  /**
   * The exact JSON request body to POST for `create`. Send these bytes, not JSON.stringify(create): the
   * API server stores `data` byte for byte as sent, and upstream (and kubectl's rollout undo) compare those
   * bytes with Go's encoding (keys in UTF-8 byte order, \u003c-style escapes), which JSON.stringify does not
   * reproduce (it orders integer-like keys first and escapes differently). Set whenever `create` is.
   */
  createBody?: string;
  /** Set `revision` of these existing revisions (rollback renumbering). */
  renumber: Array<{ name: string; revision: number }>;
  /** Add the missing controller-revision-hash label to these revisions. */
  labelHash: Array<{ name: string; hash: string }>;
  /** Duplicate revisions of the current template to delete after relabelling pods (dedupCurHistories). */
  deleteDuplicates: string[];
  /** Pods whose controller-revision-hash label must be patched to the kept duplicate's hash. */
  relabelPods: Array<{ name: string; hash: string }>;
  /** Old revisions to delete (cleanupHistory: beyond revisionHistoryLimit, not used by any pod). */
  deleteOld: string[];
  /** The template hash collides with a different revision's data: bump status.collisionCount and stop this sync. */
  collision: boolean;
}

export interface Plan {
  /** Adoptions and releases, before anything else; the rest of the plan already counts them done. */
  claims: ClaimsPlan;
  history: HistoryPlan;
  creates: PodCreate[];
  deletes: PodDelete[];
  /** Pods the rolling update moves to the update revision in place instead of deleting them. */
  inPlaceUpdates: PodInPlaceUpdate[];
  events: PlannedEvent[];
  /** The status to write, or undefined when the stored status is already equal (upstream storeDaemonSetStatus skip). */
  status: V1DaemonSetStatus | undefined;
  /** New failed-pod backoff entries (key → entry); the executor stores them. */
  backoffUpdates: Array<{ key: string; entry: BackoffEntry }>;
  /** Sync again after this many ms (failed-pod backoff, minReadySeconds), if set. */
  requeueAfterMs: number | undefined;
  /** The rollout settings, when every rollout annotation is valid: the controller remembers them. */
  rolloutSettings?: RolloutSettings;
  /**
   * The sync stops early (deleting DaemonSet, empty selector, a selector on a reserved label, collision);
   * pods and status are left alone. Except for 'collision', claims and history hold no operations (`current` only names the
   * revision the template would map to); for 'collision' it is the plan up to the collision.
   */
  skipped?: 'deleting' | 'selecting-all' | 'reserved-label' | 'collision';
}

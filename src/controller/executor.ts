// Performs a Plan against the API server: the only module of the controller
// that writes to it (the Event recorder and leader election aside). In upstream's
// order: claims first (ClaimPods / ClaimControllerRevisions: adopt, release),
// history (constructHistory / dedup / cleanup), then
// expectations, then pod creates under slow start and deletes in
// parallel (syncNodes), then status (storeDaemonSetStatus). Every failure is
// collected and returned as one error so the work queue retries the key with
// backoff; nothing here sleeps or retries on its own (except the one status
// retry upstream does). everynode: in-place patches are sent without waiting
// for them (DetachedWrites); their failures fail the DaemonSet's next sync.
import type { V1ControllerRevision, V1DaemonSet, V1DaemonSetStatus, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { EventRecorder } from '../machinery/events.ts';
import { objectKey } from '../machinery/informer.ts';
import {
  ApiError,
  isAlreadyExists,
  isNamespaceTerminating,
  isNotFound,
  resourcePath,
  resources,
  type KubeClient,
  type Resource,
} from '../machinery/kube.ts';
import { labelSelectorMatches } from '../machinery/label-selector.ts';
import { slowStart } from '../machinery/slow-start.ts';
import { APPS_V1_DAEMONSET, apiVersionOf, CONTROLLER_REVISION_HASH_LABEL } from '../contract/daemon-pod.ts';
import type { RolloutSettings } from '../contract/rollout.ts';
import type { FailedPodBackoff } from './backoff.ts';
import type { ControllerExpectations } from './expectations.ts';
import { isUsableExistingRevision } from './history.ts';
import { mergeStatus, statusCoalesceMs, statusWriteDelayMs, THROTTLED_WITHIN_MS } from './status.ts';
import { inPlaceRefusalKey } from './in-place.ts';
import type {
  ClaimPatch,
  ClaimsPlan,
  HistoryPlan,
  Plan,
  PodCreate,
  PodDelete,
  PodInPlaceUpdate,
  Snapshot,
} from './types.ts';

export interface ExecutorDeps {
  client: KubeClient;
  expectations: ControllerExpectations;
  events: EventRecorder;
  /** Failed-pod backoff store (upstream failedPodsBackoff); the plan's updates land here. */
  failedPodBackoff: FailedPodBackoff;
  /** Last valid rollout settings per DaemonSet UID; a plan's valid settings land here. */
  rolloutSettings?: Map<string, RolloutSettings>;
  /** In-place updates the API server refused (`<pod uid>/<hash>`); the planner recreates those pods. */
  inPlaceRefused?: InPlaceRefusals;
  /** This controller's own status writes (a mutation cache, and when each DaemonSet's was last written). */
  statusWrites?: StatusWrites;
  logger: Logger;
  /** Aborted when this process must stop writing (leadership lost, shutdown). */
  signal?: AbortSignal;
  /**
   * Where in-place patches report, after the sync that sent them has ended: their failures (the
   * DaemonSet's next sync fails with them, so retries back off as a failed sync's do) and a wake-up
   * for that sync.
   */
  detached: DetachedWrites;
}

/**
 * In-place patches are not awaited by the sync that sends them: a patch waits for a client token
 * and then for the kubelet, and a pod that becomes Ready meanwhile would wait for the whole batch
 * before its slot (maxUnavailable) is used again. The planner sees patches in flight through the
 * expectations (projectInPlace), so the next sync can run at once. Failures are kept here until
 * the DaemonSet's next sync, which reports them as its own.
 */
export class DetachedWrites {
  private readonly failures = new Map<string, unknown[]>();
  /** Asks for another sync of the key (the work queue's add). */
  readonly wake: (key: string) => void;
  constructor(wake: (key: string) => void) {
    this.wake = wake;
  }
  failed(key: string, errors: readonly unknown[]): void {
    if (errors.length === 0) return;
    const list = this.failures.get(key);
    if (list) list.push(...errors);
    else this.failures.set(key, [...errors]);
    this.wake(key);
  }
  /** The failures since the key's last sync, forgotten here. */
  take(key: string): unknown[] {
    const list = this.failures.get(key) ?? [];
    this.failures.delete(key);
    return list;
  }
  forget(key: string): void {
    this.failures.delete(key);
  }
}

/** The REST resource of the DaemonSet's own kind (apps/v1, or everynode.dev in CRD mode). */
const ownerResource = (snapshot: Snapshot): Resource => snapshot.ownerKind ?? APPS_V1_DAEMONSET;

export interface ExecuteResult {
  /** Sync the DaemonSet again after this many ms. */
  requeueAfterMs: number | undefined;
  created: number;
  deleted: number;
  /** In-place patches sent (still in flight when the sync ends). */
  updatedInPlace: number;
}

/** Several failures of one sync, reported together (upstream utilerrors.NewAggregate). */
export class SyncError extends Error {
  readonly errors: unknown[];
  constructor(errors: unknown[]) {
    super(errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; '));
    this.name = 'SyncError';
    this.errors = errors;
  }
}

export async function executePlan(
  deps: ExecutorDeps,
  snapshot: Snapshot,
  plan: Plan,
): Promise<ExecuteResult> {
  const kind = snapshot.ownerKind ?? APPS_V1_DAEMONSET;
  const ds = { apiVersion: apiVersionOf(kind), kind: kind.kind, ...snapshot.ds };
  const key = objectKey(ds);
  const log = deps.logger.child({ daemonset: key });
  const result: ExecuteResult = {
    requeueAfterMs: plan.requeueAfterMs,
    created: 0,
    deleted: 0,
    updatedInPlace: 0,
  };

  const recordPlan = () => {
    for (const e of plan.events) deps.events.event(ds, e.type, e.reason, e.message);
    for (const { key: backoffKey, entry } of plan.backoffUpdates)
      deps.failedPodBackoff.set(backoffKey, entry);
    if (plan.rolloutSettings) deps.rolloutSettings?.set(ds.metadata?.uid ?? '', plan.rolloutSettings);
  };
  if (plan.skipped === 'deleting' || plan.skipped === 'selecting-all' || plan.skipped === 'reserved-label') {
    recordPlan();
    return result;
  }

  // Claim errors end the sync before anything else, as upstream's do: the rest of the plan counts them done.
  await applyClaims(deps, ownerResource(snapshot), ds, plan.claims, log);

  // History errors end the sync, as constructHistory's do upstream: pods are only touched with a known revision.
  await applyHistory(deps, snapshot, ds, plan.history, log);
  if (plan.skipped === 'collision' || plan.history.collision) {
    await bumpCollisionCount(deps, snapshot, log);
  }
  // Only a plan whose claims and history went through is acted on: its events and backoff entries
  // (upstream advances the failed-pod backoff only in manage, after claiming) now count.
  recordPlan();

  // Failures of the in-place patches earlier syncs sent: this sync fails with them (and backs off).
  const errors: unknown[] = deps.detached.take(key);
  const inPlace = plan.inPlaceUpdates;
  // Before any call: a watch event may arrive before the call returns (upstream SetExpectations).
  if (plan.creates.length > 0 || plan.deletes.length > 0) {
    deps.expectations.setExpectations(
      key,
      plan.creates.length,
      plan.deletes.map((d) => d.uid),
    );
  }
  deps.expectations.expectInPlace(key, inPlace);
  if (inPlace.length > 0) {
    const failures: unknown[] = [];
    void updatePodsInPlace(deps, ds, key, inPlace, failures, log)
      .catch((err: unknown) => failures.push(err))
      .then(() => {
        if (!deps.signal?.aborted) deps.detached.failed(key, failures);
      });
    result.updatedInPlace = inPlace.length;
  }
  if (plan.creates.length > 0 || plan.deletes.length > 0) {
    const [created, deleted] = await Promise.all([
      createPods(deps, ds, key, plan.creates, errors, log),
      deletePods(deps, ds, key, plan.deletes, errors, log),
    ]);
    result.created = created;
    result.deleted = deleted;
  }

  for (const name of plan.history.deleteOld) {
    try {
      await deleteRevision(deps, ds, name);
    } catch (err) {
      errors.push(err);
    }
  }

  if (plan.status) {
    const uid = ds.metadata?.uid ?? '';
    const holdMs = statusWriteDelayMs(
      ds.status,
      plan.status,
      deps.statusWrites?.lastWriteAtMs(uid),
      Date.now(),
      // Pod writes queueing for tokens go first: counters can wait longer.
      statusCoalesceMs(deps.client.limiter.waitedWithin(THROTTLED_WITHIN_MS)),
    );
    if (holdMs > 0) {
      // Counters only, and written less than an interval ago: the requeue writes them.
      result.requeueAfterMs = Math.min(result.requeueAfterMs ?? holdMs, holdMs);
    } else {
      try {
        const written = await writeStatus(deps, ownerResource(snapshot), ds, plan.status);
        deps.statusWrites?.record(uid, written.basedOn, written.stored, Date.now());
      } catch (err) {
        errors.push(err);
      }
    }
  }

  if (errors.length > 0) throw new SyncError(errors);
  return result;
}

async function applyHistory(
  deps: ExecutorDeps,
  snapshot: Snapshot,
  ds: V1DaemonSet,
  history: HistoryPlan,
  log: Logger,
): Promise<void> {
  const ns = ds.metadata?.namespace ?? '';
  const revisionPath = (name?: string) =>
    resourcePath(resources.controllerRevisions, { namespace: ns, name });
  const signal = deps.signal;

  for (const { name, hash } of history.labelHash) {
    await deps.client.request('PATCH', revisionPath(name), {
      body: { metadata: { labels: { [CONTROLLER_REVISION_HASH_LABEL]: hash } } },
      contentType: 'application/merge-patch+json',
      signal,
    });
  }

  for (const { name, hash } of history.relabelPods) {
    try {
      await deps.client.request('PATCH', resourcePath(resources.pods, { namespace: ns, name }), {
        body: { metadata: { labels: { [CONTROLLER_REVISION_HASH_LABEL]: hash } } },
        contentType: 'application/merge-patch+json',
        signal,
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  for (const name of history.deleteDuplicates) await deleteRevision(deps, ds, name);

  for (const { name, revision } of history.renumber) {
    const cached = snapshot.revisions.find((r) => r.metadata?.name === name);
    if (!cached) throw new Error(`revision ${ns}/${name} to renumber is not in the cache`);
    // An update with the cached resourceVersion, as upstream: a concurrent change conflicts and the sync retries.
    await deps.client.request('PUT', revisionPath(name), { body: { ...cached, revision }, signal });
    log.info({ revision: name, number: revision }, 'renumbered revision');
  }

  if (history.create) {
    const body = history.createBody ?? JSON.stringify(history.create);
    try {
      await deps.client.request('POST', revisionPath(), { rawBody: body, signal });
      log.info({ revision: history.create.metadata?.name }, 'created revision');
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const name = history.create.metadata?.name ?? '';
      const existing = await deps.client.request<V1ControllerRevision>('GET', revisionPath(name), { signal });
      // Someone else's revision, or another template's under this hash: upstream bumps collisionCount.
      if (!isUsableExistingRevision(snapshot.ds, existing)) await bumpCollisionCount(deps, snapshot, log);
    }
  }
}

/**
 * upstream: a fresh GET of the DaemonSet; if its collisionCount still equals
 * the one the hash was computed with, increment it through the status
 * subresource. Always ends the sync with an error so it is retried with the
 * new count.
 */
async function bumpCollisionCount(deps: ExecutorDeps, snapshot: Snapshot, log: Logger): Promise<never> {
  const ns = snapshot.ds.metadata?.namespace ?? '';
  const name = snapshot.ds.metadata?.name ?? '';
  const path = resourcePath(ownerResource(snapshot), { namespace: ns, name });
  const live = await deps.client.request<V1DaemonSet>('GET', path, { signal: deps.signal });
  const cached = snapshot.ds.status?.collisionCount ?? 0;
  const current = live.status?.collisionCount ?? 0;
  if (current === cached) {
    await deps.client.request('PUT', `${path}/status`, {
      body: { ...live, status: { ...live.status, collisionCount: cached + 1 } },
      signal: deps.signal,
    });
    log.info({ collisionCount: cached + 1 }, 'hash collision, bumped collisionCount');
  }
  throw new Error(`found a hash collision for DaemonSet ${ns}/${name}: bumped collisionCount, will retry`);
}

async function deleteRevision(deps: ExecutorDeps, ds: V1DaemonSet, name: string): Promise<void> {
  try {
    await deps.client.request(
      'DELETE',
      resourcePath(resources.controllerRevisions, { namespace: ds.metadata?.namespace, name }),
      {
        signal: deps.signal,
      },
    );
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
/** The API server timed out the create: the pod may exist; its informer event settles the expectation. */
const isServerTimeout = (err: unknown): boolean =>
  err instanceof ApiError && (err.code === 504 || err.reason === 'Timeout' || err.reason === 'ServerTimeout');

/**
 * upstream syncNodes' creates: slow start (1, 2, 4, … in flight; see machinery/slow-start.ts for
 * why a window rather than upstream's batches); after a failure the rest is skipped and its
 * expectations lowered.
 */
async function createPods(
  deps: ExecutorDeps,
  ds: V1DaemonSet,
  key: string,
  creates: PodCreate[],
  errors: unknown[],
  log: Logger,
): Promise<number> {
  const path = resourcePath(resources.pods, { namespace: ds.metadata?.namespace });
  let created = 0;
  const { started } = await slowStart(creates, async ({ nodeName, pod }) => {
    // The planner bounds creates to pods the selector matches; hold that line here too, since a
    // pod the selector misses would be released at once and replaced forever.
    if (!labelSelectorMatches(ds.spec?.selector, pod.metadata?.labels)) {
      deps.expectations.creationObserved(key);
      errors.push(
        new Error(`refusing to create a pod for node ${nodeName}: spec.selector does not match its labels`),
      );
      return false;
    }
    try {
      const made = await deps.client.request<V1Pod>('POST', path, { body: pod, signal: deps.signal });
      created++;
      deps.events.event(ds, 'Normal', 'SuccessfulCreate', `Created pod: ${made.metadata?.name ?? ''}`);
      log.debug({ pod: made.metadata?.name, node: nodeName }, 'created pod');
      return true;
    } catch (err) {
      // Not failures: the pod may exist (its informer event settles the expectation), or the
      // namespace is terminating and fails every create (upstream ignores it).
      if (isServerTimeout(err)) return true;
      deps.expectations.creationObserved(key);
      if (isNamespaceTerminating(err)) return true;
      deps.events.event(ds, 'Warning', 'FailedCreate', `Error creating: ${errorText(err)}`);
      log.warn({ err, node: nodeName }, 'failed to create pod');
      errors.push(err);
      return false;
    }
  });
  const skipped = creates.length - started;
  if (skipped > 0) {
    deps.expectations.lowerExpectations(key, skipped, []);
    log.info({ skipped }, 'a create failed, skipping the remaining creates');
  }
  return created;
}

/** upstream syncNodes' deletes: all in parallel; NotFound is fine; a failure counts as observed. */
async function deletePods(
  deps: ExecutorDeps,
  ds: V1DaemonSet,
  key: string,
  deletes: PodDelete[],
  errors: unknown[],
  log: Logger,
): Promise<number> {
  const outcomes = await Promise.all(
    deletes.map(async ({ name, uid, nodeName, reason }) => {
      try {
        // The UID precondition keeps us from deleting a different pod that took the name meanwhile.
        await deps.client.request(
          'DELETE',
          resourcePath(resources.pods, { namespace: ds.metadata?.namespace, name }),
          {
            body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid } },
            signal: deps.signal,
          },
        );
        deps.events.event(ds, 'Normal', 'SuccessfulDelete', `Deleted pod: ${name}`);
        log.debug({ pod: name, node: nodeName, reason }, 'deleted pod');
        return true;
      } catch (err) {
        deps.expectations.deletionObserved(key, uid);
        if (isNotFound(err)) return false;
        deps.events.event(ds, 'Warning', 'FailedDelete', `Error deleting: ${errorText(err)}`);
        log.warn({ err, pod: name, reason }, 'failed to delete pod');
        errors.push(err);
        return false;
      }
    }),
  );
  return outcomes.filter(Boolean).length;
}

/** Status codes that mean "this pod cannot take this change in place", not "try again". */
const REFUSED_CODES = new Set([400, 403, 405, 415, 422]);

/**
 * Remembers refused in-place updates so the next plan recreates those pods. Bounded: the oldest
 * entries go first (a forgotten refusal costs one more refused patch, nothing else).
 */
export class InPlaceRefusals extends Set<string> {
  private readonly limit: number;
  constructor(limit = 10_000) {
    super();
    this.limit = limit;
  }
  override add(key: string): this {
    super.add(key);
    if (this.size > this.limit) this.delete(this.values().next().value!);
    return this;
  }
}

/**
 * Moves pods to the update revision in place, all in parallel: the resize subresource first (when
 * cpu/memory change), then one strategic-merge patch of labels, the in-place record and images,
 * guarded by the pod's uid. A refusal (4xx other than NotFound/Conflict) is remembered so the next
 * sync recreates the pod; NotFound means it is gone; anything else is retried by the next sync (the
 * one that sent it does not wait).
 */
async function updatePodsInPlace(
  deps: ExecutorDeps,
  ds: V1DaemonSet,
  key: string,
  updates: PodInPlaceUpdate[],
  errors: unknown[],
  log: Logger,
): Promise<number> {
  const outcomes = await Promise.all(
    updates.map(async (u) => {
      const path = resourcePath(resources.pods, { namespace: ds.metadata?.namespace, name: u.name });
      const patch = (suffix: string, body: unknown) =>
        deps.client.request('PATCH', `${path}${suffix}`, {
          body,
          contentType: 'application/strategic-merge-patch+json',
          signal: deps.signal,
        });
      try {
        if (u.resize) await patch('/resize', u.resize);
        await patch('', u.patch);
        deps.events.event(ds, 'Normal', 'SuccessfulUpdatePodInPlace', `Updated pod in place: ${u.name}`);
        log.debug({ pod: u.name, node: u.nodeName, revision: u.hash }, 'updated pod in place');
        return true;
      } catch (err) {
        deps.expectations.inPlaceFailed(key, u);
        if (isNotFound(err)) return false;
        const refused = err instanceof ApiError && REFUSED_CODES.has(err.code);
        if (refused) deps.inPlaceRefused?.add(inPlaceRefusalKey(u.uid, u.hash));
        deps.events.event(
          ds,
          'Warning',
          'FailedUpdatePodInPlace',
          `Error updating pod ${u.name} in place${refused ? ', recreating it' : ''}: ${errorText(err)}`,
        );
        log.warn({ err, pod: u.name }, 'failed to update pod in place');
        errors.push(err);
        return false;
      }
    }),
  );
  return outcomes.filter(Boolean).length;
}

/**
 * upstream storeDaemonSetStatus: UpdateStatus on a copy of the cached
 * DaemonSet; on failure one retry on a freshly read copy. Only the counters and
 * observedGeneration are ours; conditions and collisionCount stay as stored.
 */
async function writeStatus(
  deps: ExecutorDeps,
  resource: Resource,
  ds: V1DaemonSet,
  status: V1DaemonSetStatus,
): Promise<{ basedOn: string; stored: V1DaemonSet }> {
  const path = resourcePath(resource, {
    namespace: ds.metadata?.namespace,
    name: ds.metadata?.name,
  });
  try {
    // `status` is already laid over the cached status by the planner.
    const stored = await deps.client.request<V1DaemonSet>('PUT', `${path}/status`, {
      body: { ...ds, status },
      signal: deps.signal,
    });
    return { basedOn: ds.metadata?.resourceVersion ?? '', stored };
  } catch (err) {
    if (isNotFound(err) || deps.signal?.aborted) throw err;
  }
  const fresh = await deps.client.request<V1DaemonSet>('GET', path, { signal: deps.signal });
  const stored = await deps.client.request<V1DaemonSet>('PUT', `${path}/status`, {
    body: { ...fresh, status: mergeStatus(fresh.status, status) },
    signal: deps.signal,
  });
  return { basedOn: fresh.metadata?.resourceVersion ?? '', stored };
}

/**
 * The DaemonSets as this controller's own status writes left them, until the informer shows it
 * (client-go's MutationCache, for one field). A sync that runs before the watch delivered our last
 * status write would otherwise plan from the version that write replaced: its status write would
 * conflict (409, a GET, a retry) or rewrite what is already stored. Also when each DaemonSet's
 * status was last written, for coalescing counters-only writes.
 */
export class StatusWrites {
  private readonly written = new Map<string, { basedOn: string; stored: V1DaemonSet }>();
  private readonly lastWrite = new Map<string, number>();

  record(uid: string, basedOn: string, stored: V1DaemonSet, atMs: number): void {
    this.written.set(uid, { basedOn, stored });
    this.lastWrite.set(uid, atMs);
  }

  /**
   * `cached` (the informer's copy), or the newer object our status write produced when the
   * informer still holds exactly the version that write replaced. Once the informer moved on
   * (our write arrived, or anyone else's change), the informer's copy is the truth again.
   */
  latest<T extends V1DaemonSet>(cached: T): T {
    const uid = cached.metadata?.uid ?? '';
    const entry = this.written.get(uid);
    if (!entry) return cached;
    if (cached.metadata?.resourceVersion === entry.basedOn) return { ...cached, ...entry.stored };
    this.written.delete(uid);
    return cached;
  }

  lastWriteAtMs(uid: string): number | undefined {
    return this.lastWrite.get(uid);
  }

  /** The DaemonSet is gone. */
  forget(uid: string): void {
    this.written.delete(uid);
    this.lastWrite.delete(uid);
  }
}

const CLAIM_RESOURCES: Record<ClaimPatch['resource'], Resource> = {
  pods: resources.pods,
  controllerrevisions: resources.controllerRevisions,
};

/**
 * upstream ClaimPods / ClaimControllerRevisions' writes: releases (a strategic-merge delete of
 * our owner reference) and adoptions (our controller reference added), each guarded by the
 * object's uid. Before the first adoption, an uncached GET proves the DaemonSet still exists
 * and is not being deleted (RecheckDeletionTimestamp). NotFound means the object is gone and a
 * 422 on release that our reference is already removed: both are fine. Other failures are
 * thrown together after every claim was tried.
 */
async function applyClaims(
  deps: ExecutorDeps,
  resource: Resource,
  ds: V1DaemonSet,
  claims: ClaimsPlan,
  log: Logger,
): Promise<void> {
  const errors: unknown[] = [];
  const pathOf = (c: ClaimPatch) =>
    resourcePath(CLAIM_RESOURCES[c.resource], { namespace: c.namespace, name: c.name });
  const patch = (c: ClaimPatch, ownerReferences: unknown[]) =>
    deps.client.request('PATCH', pathOf(c), {
      body: { metadata: { ownerReferences, uid: c.uid } },
      contentType: 'application/strategic-merge-patch+json',
      signal: deps.signal,
    });
  for (const c of claims.release) {
    try {
      await patch(c, [{ $patch: 'delete', uid: claims.ownerRef.uid }]);
      log.info({ [c.resource]: c.name }, 'released');
    } catch (err) {
      if (!isNotFound(err) && !(err instanceof ApiError && err.code === 422)) errors.push(err);
    }
  }
  if (claims.adopt.length > 0) {
    try {
      await recheckOwner(deps, resource, ds);
    } catch (err) {
      errors.push(err);
      throw new SyncError(errors);
    }
  }
  for (const c of claims.adopt) {
    try {
      await patch(c, [claims.ownerRef]);
      log.info({ [c.resource]: c.name }, 'adopted');
    } catch (err) {
      if (!isNotFound(err)) errors.push(err);
    }
  }
  if (errors.length > 0) throw new SyncError(errors);
}

/** upstream RecheckDeletionTimestamp: the DaemonSet as stored now is the one we plan for, not being deleted. */
async function recheckOwner(deps: ExecutorDeps, resource: Resource, ds: V1DaemonSet): Promise<void> {
  const ns = ds.metadata?.namespace ?? '';
  const name = ds.metadata?.name ?? '';
  const fresh = await deps.client.request<V1DaemonSet>(
    'GET',
    resourcePath(resource, { namespace: ns, name }),
    { signal: deps.signal },
  );
  if (fresh.metadata?.uid !== ds.metadata?.uid) {
    throw new Error(
      `original DaemonSet ${ns}/${name} is gone: got uid ${fresh.metadata?.uid ?? ''}, wanted ${ds.metadata?.uid ?? ''}`,
    );
  }
  if (fresh.metadata?.deletionTimestamp) {
    throw new Error(
      `DaemonSet ${ns}/${name} has just been deleted at ${String(fresh.metadata.deletionTimestamp)}`,
    );
  }
}

// The DaemonSet controller's machinery (upstream daemon_controller.go minus the
// decisions): informers, event handlers that only enqueue keys, workers that
// build a Snapshot from the caches, claim (adopt/release) pods and revisions,
// run the pure planner and hand its Plan to the executor.
//
// Memory: the pod informer watches only pods labelled everynode.dev/managed=true
// (every pod everynode creates carries it), so the cache grows with everynode's
// pods, not with every pod in the cluster. Consequence: orphan adoption only
// considers labelled pods; a matching pod created by someone else without the
// label is neither seen nor adopted.
import type {
  V1ControllerRevision,
  V1DaemonSet,
  V1Node,
  V1OwnerReference,
  V1Pod,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import {
  controllerRefOf,
  MANAGED_LABEL,
  MANAGED_LABEL_VALUE,
  pinnedNodeOf,
  TARGET_NODE_ANNOTATION,
} from '../contract/daemon-pod.ts';
import type { EventRecorder } from '../machinery/events.ts';
import { Informer, objectKey } from '../machinery/informer.ts';
import {
  ApiError,
  isNotFound,
  resourcePath,
  resources,
  type KubeClient,
  type Resource,
} from '../machinery/kube.ts';
import { labelSelectorMatches } from '../machinery/label-selector.ts';
import { WorkQueue } from '../machinery/workqueue.ts';
import { daemonSetKey, executePlan } from './executor.ts';
import { ControllerExpectations } from './expectations.ts';
import { nodeShouldRunDaemonPod } from './placement.ts';
import { planDaemonSet, selectsAllPods } from './plan.ts';
import type { BackoffEntry, Snapshot } from './types.ts';

export const CONTROLLER_NAME = 'daemonset';
/** upstream burstReplicas. */
export const DEFAULT_BURST = 250;
/** flowcontrol.Backoff GC: entries idle for twice the 15 min maximum are dropped. */
const FAILED_POD_BACKOFF_GC_AFTER_MS = 2 * 15 * 60_000;

export interface ControllerOptions {
  client: KubeClient;
  events: EventRecorder;
  logger: Logger;
  registry?: Registry;
  /** Concurrent syncs (upstream --concurrent-daemonset-syncs). */
  workers?: number;
  /** Creates/deletes per sync (upstream burstReplicas). */
  burst?: number;
  /** Informer tuning (tests shorten these). */
  informer?: { relistIntervalMs?: number; silenceTimeoutMs?: number };
}

type Obj = { metadata?: { namespace?: string; name?: string; uid?: string; resourceVersion?: string } };

const isControlledDaemonSetRef = (ref: V1OwnerReference | undefined): ref is V1OwnerReference =>
  ref !== undefined && ref.kind === 'DaemonSet' && (ref.apiVersion ?? '').startsWith('apps/');

// controller-runtime's reconcile time buckets.
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25,
  1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

function reconcileMetrics(registry: Registry, workers: number) {
  const labelNames = ['controller'] as const;
  const registers = [registry];
  const m = {
    total: new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'] as const,
      registers,
    }),
    errors: new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames,
      registers,
    }),
    time: new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames,
      registers,
      buckets: RECONCILE_BUCKETS,
    }),
    maxConcurrent: new Gauge({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller',
      labelNames,
      registers,
    }),
    active: new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller',
      labelNames,
      registers,
    }),
  };
  for (const result of ['success', 'error', 'requeue', 'requeue_after'])
    m.total.inc({ controller: CONTROLLER_NAME, result }, 0);
  m.errors.inc({ controller: CONTROLLER_NAME }, 0);
  m.maxConcurrent.set({ controller: CONTROLLER_NAME }, workers);
  m.active.set({ controller: CONTROLLER_NAME }, 0);
  return m;
}

export class DaemonSetController {
  readonly daemonSets: Informer<V1DaemonSet>;
  readonly nodes: Informer<V1Node>;
  readonly pods: Informer<V1Pod>;
  readonly revisions: Informer<V1ControllerRevision>;
  readonly queue: WorkQueue<string>;
  readonly expectations = new ControllerExpectations();
  readonly failedPodBackoff = new Map<string, BackoffEntry>();
  private readonly o: ControllerOptions & { workers: number; burst: number };
  private readonly log: Logger;
  private readonly metrics: ReturnType<typeof reconcileMetrics> | undefined;
  private workersDone: Promise<void> | undefined;
  private backoffGc: NodeJS.Timeout | undefined;

  constructor(options: ControllerOptions) {
    this.o = { workers: 2, burst: DEFAULT_BURST, ...options };
    this.log = options.logger.child({ controller: CONTROLLER_NAME });
    const common = {
      client: options.client,
      logger: this.log,
      registry: options.registry,
      ...options.informer,
    };
    const inf = <T extends Obj>(resource: Resource, labelSelector?: string) =>
      new Informer<T>({ ...common, resource, ...(labelSelector ? { labelSelector } : {}) });
    this.daemonSets = inf<V1DaemonSet>(resources.daemonSets);
    this.nodes = inf<V1Node>(resources.nodes);
    this.pods = inf<V1Pod>(resources.pods, `${MANAGED_LABEL}=${MANAGED_LABEL_VALUE}`);
    this.revisions = inf<V1ControllerRevision>(resources.controllerRevisions);
    const byNamespace = (o: Obj) => [o.metadata?.namespace ?? ''];
    this.daemonSets.addIndexer('namespace', byNamespace);
    this.pods.addIndexer('namespace', byNamespace);
    this.revisions.addIndexer('namespace', byNamespace);
    this.queue = new WorkQueue<string>({
      name: CONTROLLER_NAME,
      controller: CONTROLLER_NAME,
      registry: options.registry,
    });
    this.metrics = options.registry ? reconcileMetrics(options.registry, this.o.workers) : undefined;
    this.registerHandlers();
  }

  /** Starts the caches (also on a standby, so a takeover starts warm). */
  startInformers(): void {
    for (const i of this.informers()) i.start();
  }

  hasSynced(): boolean {
    return this.informers().every((i) => i.hasSynced());
  }

  async waitForCacheSync(signal?: AbortSignal): Promise<void> {
    await Promise.all(this.informers().map((i) => i.waitForSync(signal)));
  }

  /**
   * Runs the workers until stop(). `leading` aborts when this process must
   * stop writing: in-flight API calls are cancelled with it.
   */
  async run(leading?: AbortSignal): Promise<void> {
    this.startInformers();
    await this.waitForCacheSync(leading);
    this.log.info({ workers: this.o.workers }, 'caches synced, starting workers');
    this.backoffGc = setInterval(() => this.gcFailedPodBackoff(), 60_000);
    this.backoffGc.unref();
    this.workersDone = Promise.all(Array.from({ length: this.o.workers }, () => this.worker(leading))).then(
      () => undefined,
    );
    await this.workersDone;
  }

  /** Graceful stop: no new syncs, in-flight syncs finish, informers stop. */
  async stop(): Promise<void> {
    await this.queue.shutDownWithDrain();
    await this.workersDone;
    clearInterval(this.backoffGc);
    await Promise.all(this.informers().map((i) => i.stop()));
  }

  private informers() {
    return [this.daemonSets, this.nodes, this.pods, this.revisions] as const;
  }

  private async worker(leading?: AbortSignal): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const started = performance.now();
      this.metrics?.active.inc({ controller: CONTROLLER_NAME });
      let result: 'success' | 'error' | 'requeue_after' = 'success';
      try {
        const requeueAfterMs = await this.syncDaemonSet(key, leading);
        this.queue.forget(key);
        if (requeueAfterMs !== undefined && requeueAfterMs >= 0) {
          this.queue.addAfter(key, requeueAfterMs);
          result = 'requeue_after';
        }
      } catch (err) {
        result = 'error';
        this.metrics?.errors.inc({ controller: CONTROLLER_NAME });
        if (!leading?.aborted) {
          this.log.warn(
            { err, daemonset: key, retries: this.queue.numRequeues(key) },
            'sync failed, will retry',
          );
          this.queue.addRateLimited(key);
        }
      } finally {
        this.queue.done(key);
        this.metrics?.active.dec({ controller: CONTROLLER_NAME });
        this.metrics?.total.inc({ controller: CONTROLLER_NAME, result });
        this.metrics?.time.observe({ controller: CONTROLLER_NAME }, (performance.now() - started) / 1000);
      }
    }
  }

  /** One sync of one DaemonSet key; returns the requeue-after delay, if any. */
  async syncDaemonSet(key: string, signal?: AbortSignal): Promise<number | undefined> {
    const started = performance.now();
    const cached = this.daemonSets.get(key);
    if (!cached) {
      this.expectations.deleteExpectations(key);
      this.log.debug({ daemonset: key }, 'DaemonSet gone');
      return undefined;
    }
    const ds: V1DaemonSet = { apiVersion: 'apps/v1', kind: 'DaemonSet', ...cached };
    // Claims may write (adopt/release); the snapshot is then read from the caches in one synchronous step,
    // together with the expectations, so no informer event can slip in between the two.
    // upstream returns before claiming for an everything-selector or a DaemonSet being deleted; the planner
    // reports those cases, and claiming then could adopt every labelled pod of the namespace.
    const claimed =
      selectsAllPods(ds) || ds.metadata?.deletionTimestamp ? noClaims() : await this.claim(ds, signal);
    const snapshot: Snapshot = {
      ds,
      nodes: this.nodes.list(),
      pods: this.controlledPods(ds, claimed.pods),
      revisions: this.controlledRevisions(ds, claimed.revisions),
      now: Date.now(),
      expectationsSatisfied: this.expectations.satisfied(key),
      failedPodBackoff: this.failedPodBackoff,
      burst: this.o.burst,
    };
    const plan = planDaemonSet(snapshot);
    const result = await executePlan(
      {
        client: this.o.client,
        expectations: this.expectations,
        events: this.o.events,
        failedPodBackoff: this.failedPodBackoff,
        logger: this.log,
        ...(signal ? { signal } : {}),
      },
      snapshot,
      plan,
    );
    this.log.debug(
      {
        daemonset: key,
        created: result.created,
        deleted: result.deleted,
        requeueAfterMs: result.requeueAfterMs,
        skipped: plan.skipped,
        ms: Math.round(performance.now() - started),
      },
      'synced',
    );
    return result.requeueAfterMs;
  }

  // ---- claiming (upstream ClaimPods / ClaimControllerRevisions) -------------

  /**
   * Adopts matching orphans and releases owned objects that stopped matching.
   * Returns the adopted objects as the API returned them (the cache may not
   * have them yet) and the names released.
   */
  private async claim(
    ds: V1DaemonSet,
    signal?: AbortSignal,
  ): Promise<{ pods: ClaimResult<V1Pod>; revisions: ClaimResult<V1ControllerRevision> }> {
    const ns = ds.metadata?.namespace ?? '';
    let recheck: Promise<void> | undefined;
    // upstream RecheckDeletionTimestamp: before the first adoption, an uncached GET proves the DaemonSet still exists and is not being deleted.
    const canAdopt = () =>
      (recheck ??= (async () => {
        const fresh = await this.o.client.request<V1DaemonSet>(
          'GET',
          resourcePath(resources.daemonSets, { namespace: ns, name: ds.metadata?.name }),
          { signal },
        );
        if (fresh.metadata?.uid !== ds.metadata?.uid) {
          throw new Error(
            `original DaemonSet ${ns}/${ds.metadata?.name ?? ''} is gone: got uid ${fresh.metadata?.uid ?? ''}, wanted ${ds.metadata?.uid ?? ''}`,
          );
        }
        if (fresh.metadata?.deletionTimestamp) {
          throw new Error(
            `DaemonSet ${ns}/${ds.metadata?.name ?? ''} has just been deleted at ${String(fresh.metadata.deletionTimestamp)}`,
          );
        }
      })());
    const pods = await this.claimObjects(
      ds,
      this.pods.byIndex('namespace', ns),
      resources.pods,
      canAdopt,
      signal,
    );
    const revisions = await this.claimObjects(
      ds,
      this.revisions.byIndex('namespace', ns),
      resources.controllerRevisions,
      canAdopt,
      signal,
    );
    return { pods, revisions };
  }

  private async claimObjects<
    T extends Obj & {
      metadata?: {
        labels?: Record<string, string>;
        deletionTimestamp?: unknown;
        ownerReferences?: V1OwnerReference[];
      };
    },
  >(
    ds: V1DaemonSet,
    candidates: T[],
    resource: Resource,
    canAdopt: () => Promise<void>,
    signal?: AbortSignal,
  ): Promise<ClaimResult<T>> {
    const result: ClaimResult<T> = { adopted: [], released: new Set() };
    const uid = ds.metadata?.uid ?? '';
    const selector = ds.spec?.selector;
    const errors: unknown[] = [];
    for (const obj of candidates) {
      const ref = controllerRefOf(obj);
      const matches = labelSelectorMatches(selector, obj.metadata?.labels);
      const path = resourcePath(resource, { namespace: obj.metadata?.namespace, name: obj.metadata?.name });
      if (ref) {
        if (ref.uid !== uid || matches || ds.metadata?.deletionTimestamp) continue;
        // Ours but no longer selected: release it (strategic-merge delete of our ownerReference, guarded by the object's uid).
        try {
          await this.o.client.request('PATCH', path, {
            body: { metadata: { ownerReferences: [{ $patch: 'delete', uid }], uid: obj.metadata?.uid } },
            contentType: 'application/strategic-merge-patch+json',
            signal,
          });
          result.released.add(objectKey(obj));
          this.log.info({ daemonset: daemonSetKey(ds), [resource.plural]: obj.metadata?.name }, 'released');
        } catch (err) {
          // Gone, or our reference already removed: nothing to release.
          if (!isNotFound(err) && !(err instanceof ApiError && err.code === 422)) errors.push(err);
        }
        continue;
      }
      if (!matches || ds.metadata?.deletionTimestamp || obj.metadata?.deletionTimestamp) continue;
      try {
        await canAdopt();
        const adopted = await this.o.client.request<T>('PATCH', path, {
          body: {
            metadata: {
              ownerReferences: [
                {
                  apiVersion: 'apps/v1',
                  kind: 'DaemonSet',
                  name: ds.metadata?.name,
                  uid,
                  controller: true,
                  blockOwnerDeletion: true,
                },
              ],
              uid: obj.metadata?.uid,
            },
          },
          contentType: 'application/strategic-merge-patch+json',
          signal,
        });
        result.adopted.push(adopted);
        this.log.info({ daemonset: daemonSetKey(ds), [resource.plural]: obj.metadata?.name }, 'adopted');
      } catch (err) {
        if (!isNotFound(err)) errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
    return result;
  }

  /** Pods of the DaemonSet's namespace whose controller is this DaemonSet, as of now in the cache. */
  private controlledPods(ds: V1DaemonSet, claimed: ClaimResult<V1Pod>): V1Pod[] {
    return this.controlled(ds, this.pods.byIndex('namespace', ds.metadata?.namespace ?? ''), claimed);
  }

  private controlledRevisions(
    ds: V1DaemonSet,
    claimed: ClaimResult<V1ControllerRevision>,
  ): V1ControllerRevision[] {
    return this.controlled(ds, this.revisions.byIndex('namespace', ds.metadata?.namespace ?? ''), claimed);
  }

  private controlled<T extends Obj & { metadata?: { ownerReferences?: V1OwnerReference[] } }>(
    ds: V1DaemonSet,
    cached: T[],
    claimed: ClaimResult<T>,
  ): T[] {
    const uid = ds.metadata?.uid;
    const byKey = new Map<string, T>();
    for (const obj of cached) {
      if (controllerRefOf(obj)?.uid === uid && !claimed.released.has(objectKey(obj)))
        byKey.set(objectKey(obj), obj);
    }
    for (const obj of claimed.adopted) {
      const key = objectKey(obj);
      const inCache = byKey.get(key);
      // Prefer whichever copy is newer; resourceVersions are opaque, so "newer" = the cache already shows our adoption.
      if (!inCache) byKey.set(key, obj);
    }
    return [...byKey.values()];
  }

  // ---- event handlers (upstream §1: they only enqueue) ----------------------

  private enqueue(ds: V1DaemonSet): void {
    this.queue.add(daemonSetKey(ds));
  }

  /** The DaemonSet a controller reference points at, if it exists with that UID. */
  private resolveControllerRef(
    namespace: string | undefined,
    ref: V1OwnerReference | undefined,
  ): V1DaemonSet | undefined {
    if (!isControlledDaemonSetRef(ref)) return undefined;
    const ds = this.daemonSets.get(`${namespace ?? ''}/${ref.name}`);
    return ds?.metadata?.uid === ref.uid ? ds : undefined;
  }

  /** DaemonSets in the object's namespace whose (non-empty) selector matches its labels. */
  private daemonSetsSelecting(obj: {
    metadata?: { namespace?: string; labels?: Record<string, string> };
  }): V1DaemonSet[] {
    return this.daemonSets
      .byIndex('namespace', obj.metadata?.namespace ?? '')
      .filter((ds) => labelSelectorMatches(ds.spec?.selector, obj.metadata?.labels));
  }

  private registerHandlers(): void {
    this.daemonSets.addHandlers({
      add: (ds) => this.enqueue(ds),
      update: (old, cur) => {
        if (old.metadata?.uid !== cur.metadata?.uid) this.onDaemonSetDeleted(old);
        this.enqueue(cur);
      },
      delete: (ds) => this.onDaemonSetDeleted(ds),
    });

    this.pods.addHandlers({
      add: (pod) => this.onPodAdded(pod),
      update: (old, cur) => this.onPodUpdated(old, cur),
      delete: (pod) => this.onPodDeleted(pod),
    });

    this.revisions.addHandlers({
      add: (rev) => {
        if (rev.metadata?.deletionTimestamp) return this.onRevisionDeleted(rev);
        const ref = controllerRefOf(rev);
        // upstream: a new revision with a controller ref does not enqueue its owner (the owner created it).
        if (ref) return;
        for (const ds of this.daemonSetsSelecting(rev)) this.enqueue(ds);
      },
      update: (old, cur) => {
        if (old.metadata?.resourceVersion === cur.metadata?.resourceVersion) return;
        const curRef = controllerRefOf(cur);
        const oldRef = controllerRefOf(old);
        if (oldRef && oldRef.uid !== curRef?.uid) {
          const ds = this.resolveControllerRef(old.metadata?.namespace, oldRef);
          if (ds) this.enqueue(ds);
        }
        if (curRef) {
          const ds = this.resolveControllerRef(cur.metadata?.namespace, curRef);
          if (ds) this.enqueue(ds);
          return;
        }
        if (!sameLabels(old.metadata?.labels, cur.metadata?.labels) || oldRef) {
          for (const ds of this.daemonSetsSelecting(cur)) this.enqueue(ds);
        }
      },
      delete: (rev) => this.onRevisionDeleted(rev),
    });

    this.nodes.addHandlers({
      add: (node) => {
        for (const ds of this.daemonSets.list()) {
          if (nodeShouldRunDaemonPod(node, ds).shouldRun) this.enqueue(ds);
        }
      },
      update: (old, cur) => {
        // upstream shouldIgnoreNodeUpdate: only labels and taints change placement.
        if (
          sameLabels(old.metadata?.labels, cur.metadata?.labels) &&
          JSON.stringify(old.spec?.taints ?? []) === JSON.stringify(cur.spec?.taints ?? [])
        ) {
          return;
        }
        for (const ds of this.daemonSets.list()) {
          const before = nodeShouldRunDaemonPod(old, ds);
          const after = nodeShouldRunDaemonPod(cur, ds);
          if (
            before.shouldRun !== after.shouldRun ||
            before.shouldContinueRunning !== after.shouldContinueRunning
          ) {
            this.enqueue(ds);
          }
        }
      },
      // Upstream has no node-delete handler and waits for PodGC; enqueueing the DaemonSets with a pod
      // pinned to the node lets an unbound pod for a vanished node go without waiting for another event.
      delete: (node) => {
        const name = node.metadata?.name;
        for (const ds of this.daemonSets.list()) {
          const owned = this.pods
            .byIndex('namespace', ds.metadata?.namespace ?? '')
            .some((p) => controllerRefOf(p)?.uid === ds.metadata?.uid && podTargetsNode(p, name));
          if (owned) this.enqueue(ds);
        }
      },
    });
  }

  private onDaemonSetDeleted(ds: V1DaemonSet): void {
    const key = daemonSetKey(ds);
    this.expectations.deleteExpectations(key);
    this.queue.add(key);
  }

  private onPodAdded(pod: V1Pod): void {
    // A pod already terminating when first seen (e.g. after a restart) is not a creation observation.
    if (pod.metadata?.deletionTimestamp) return this.onPodDeleted(pod);
    const ref = controllerRefOf(pod);
    if (ref) {
      const ds = this.resolveControllerRef(pod.metadata?.namespace, ref);
      if (!ds) return;
      this.expectations.creationObserved(daemonSetKey(ds));
      this.enqueue(ds);
      return;
    }
    for (const ds of this.daemonSetsSelecting(pod)) this.enqueue(ds);
  }

  private onPodUpdated(old: V1Pod, cur: V1Pod): void {
    if (old.metadata?.resourceVersion === cur.metadata?.resourceVersion) return;
    // A graceful delete first sets deletionTimestamp: count it as the deletion now, so a replacement is not delayed.
    if (cur.metadata?.deletionTimestamp) return this.onPodDeleted(cur);
    const curRef = controllerRefOf(cur);
    const oldRef = controllerRefOf(old);
    const refChanged = oldRef?.uid !== curRef?.uid;
    if (refChanged && oldRef) {
      const ds = this.resolveControllerRef(old.metadata?.namespace, oldRef);
      if (ds) this.enqueue(ds);
    }
    if (curRef) {
      const ds = this.resolveControllerRef(cur.metadata?.namespace, curRef);
      if (!ds) return;
      this.enqueue(ds);
      const minReadySeconds = ds.spec?.minReadySeconds ?? 0;
      if (!isReady(old) && isReady(cur) && minReadySeconds > 0) {
        this.queue.addAfter(daemonSetKey(ds), minReadySeconds * 1000 + 1000);
      }
      return;
    }
    if (!sameLabels(old.metadata?.labels, cur.metadata?.labels) || refChanged) {
      for (const ds of this.daemonSetsSelecting(cur)) this.enqueue(ds);
    }
  }

  private onPodDeleted(pod: V1Pod): void {
    const ds = this.resolveControllerRef(pod.metadata?.namespace, controllerRefOf(pod));
    if (!ds) return;
    this.expectations.deletionObserved(daemonSetKey(ds), pod.metadata?.uid ?? '');
    this.enqueue(ds);
  }

  private onRevisionDeleted(rev: V1ControllerRevision): void {
    const ds = this.resolveControllerRef(rev.metadata?.namespace, controllerRefOf(rev));
    if (ds) this.enqueue(ds);
  }

  private gcFailedPodBackoff(): void {
    const now = Date.now();
    for (const [key, entry] of this.failedPodBackoff) {
      if (now - entry.lastUpdateMs > FAILED_POD_BACKOFF_GC_AFTER_MS) this.failedPodBackoff.delete(key);
    }
  }
}

interface ClaimResult<T> {
  adopted: T[];
  released: Set<string>;
}

const noClaims = () => ({
  pods: { adopted: [], released: new Set<string>() } as ClaimResult<V1Pod>,
  revisions: { adopted: [], released: new Set<string>() } as ClaimResult<V1ControllerRevision>,
});

function sameLabels(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ea = Object.entries(a ?? {});
  if (ea.length !== Object.keys(b ?? {}).length) return false;
  return ea.every(([k, v]) => b?.[k] === v);
}

const isReady = (pod: V1Pod): boolean =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

function podTargetsNode(pod: V1Pod, node: string | undefined): boolean {
  return (
    node !== undefined &&
    (pinnedNodeOf(pod) === node || pod.metadata?.annotations?.[TARGET_NODE_ANNOTATION] === node)
  );
}

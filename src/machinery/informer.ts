// A list+watch cache of wire-JSON objects, in the spirit of client-go's
// tools/cache reflector (ListAndWatch, watchHandler) + DeltaFIFO/store,
// hardened against client-node's known watch failures (silent half-open
// watches, error-then-stop, reconnect storms):
// - resourceVersion tracking; a clean server close re-watches from it;
// - any other failure restarts the watch with exponential backoff;
// - 410 Gone (HTTP or an ERROR event) re-lists and diffs the cache;
// - a silence watchdog restarts a watch that delivered nothing (not even a
//   bookmark) for too long; bookmarks are requested so a quiet watch is not silent;
// - a periodic re-list repairs anything a watch may have missed.
// Handlers receive add(obj), update(old, new), delete(lastKnown).
// This file is the I/O shell: every decision (what an event or a relist does to
// the store, when to re-list, back off or restart) is a pure function in
// informer-logic.ts, unit-tested there.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { resourcePath, type KubeClient, type Query, type Resource } from './kube.ts';
import {
  applyWatchEvent,
  classifyFailure,
  IndexedStore,
  initialLoopState,
  listPageRecovery,
  nextLoopStep,
  objectKey,
  relistDelayMs,
  replaceDeltas,
  watchdogCheck,
  watchTimeoutSeconds,
  type Delta,
  type KubeObject,
  type RoundResult,
} from './informer-logic.ts';

export { objectKey, type KubeObject } from './informer-logic.ts';

export interface InformerHandlers<T> {
  add?(obj: T): void;
  update?(oldObj: T, newObj: T): void;
  delete?(obj: T): void;
}

export interface InformerOptions<T = KubeObject> {
  client: KubeClient;
  resource: Resource;
  /** Restrict to one namespace; all namespaces (or cluster scope) when absent. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  logger: Logger;
  /** Items per list page (default 500, as client-go's reflector). */
  pageSize?: number;
  /**
   * Applied to every object before it is stored or handed to a handler (client-go's
   * TransformFunc), e.g. to drop fields nothing reads so the cache holds less.
   */
  transform?: (obj: T) => T;
  /** Re-list this often even when the watch looks healthy. */
  relistIntervalMs?: number;
  /** Restart a watch that delivered nothing for this long (the server sends bookmarks about once a minute). */
  silenceTimeoutMs?: number;
  /** Server-side watch timeout range, seconds; each watch picks a random value in [min, 2·min) as client-go does. */
  minWatchTimeoutSeconds?: number;
  /** Restart backoff bounds after failures (client-go reflector: 800 ms → 30 s). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Optional registry for informer metrics. */
  registry?: Registry;
}

/** Why a watch was ended from our side. */
type StopReason = 'stopped' | 'silent' | 'relist';

class WatchEnded extends Error {
  readonly why: StopReason;
  constructor(why: StopReason) {
    super(`watch ended: ${why}`);
    this.why = why;
  }
}

const metricCache = new WeakMap<
  Registry,
  { restarts: Counter<'resource' | 'reason'>; lists: Counter<'resource'> }
>();
function informerMetrics(registry: Registry) {
  let m = metricCache.get(registry);
  if (!m) {
    m = {
      restarts: new Counter({
        name: 'everynode_informer_watch_restarts_total',
        help: 'Watch restarts by resource and reason (closed, error, gone, silent, relist).',
        labelNames: ['resource', 'reason'],
        registers: [registry],
      }),
      lists: new Counter({
        name: 'everynode_informer_lists_total',
        help: 'Full lists (initial, after 410 Gone, periodic) by resource.',
        labelNames: ['resource'],
        registers: [registry],
      }),
    };
    metricCache.set(registry, m);
  }
  return m;
}

export class Informer<T extends KubeObject> {
  private readonly options: Required<
    Pick<
      InformerOptions,
      | 'pageSize'
      | 'relistIntervalMs'
      | 'silenceTimeoutMs'
      | 'minWatchTimeoutSeconds'
      | 'backoffInitialMs'
      | 'backoffMaxMs'
    >
  > &
    InformerOptions<T>;
  private readonly path: string;
  private readonly log: Logger;
  private readonly store = new IndexedStore<T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly metrics: ReturnType<typeof informerMetrics> | undefined;
  private resourceVersion = '';
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private running: Promise<void> | undefined;
  private readonly stopController = new AbortController();
  private currentWatch: AbortController | undefined;

  constructor(options: InformerOptions<T>) {
    this.options = {
      pageSize: 500,
      relistIntervalMs: 30 * 60_000,
      silenceTimeoutMs: 3 * 60_000,
      minWatchTimeoutSeconds: 300,
      backoffInitialMs: 800,
      backoffMaxMs: 30_000,
      ...options,
    };
    this.path = resourcePath(options.resource, { namespace: options.namespace });
    this.log = options.logger.child({ informer: options.resource.plural });
    this.metrics = options.registry ? informerMetrics(options.registry) : undefined;
  }

  /** Registers handlers; objects already cached are delivered as adds, as client-go does for late handlers. */
  addHandlers(handlers: InformerHandlers<T>): void {
    this.handlers.push(handlers);
    if (this.synced) for (const obj of this.store.list()) this.safely(() => handlers.add?.(obj));
  }

  /** Maintains a secondary index: `fn` returns the index values an object is filed under. */
  addIndexer(name: string, fn: (obj: T) => string[]): void {
    this.store.addIndexer(name, fn);
  }

  /** Objects filed under `value` in the named index. */
  byIndex(name: string, value: string): T[] {
    return this.store.byIndex(name, value);
  }

  /** The cached object for `namespace/name` (or `name` for cluster-scoped resources). */
  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(): T[] {
    return this.store.list();
  }

  size(): number {
    return this.store.size();
  }

  hasSynced(): boolean {
    return this.synced;
  }

  lastSyncResourceVersion(): string {
    return this.resourceVersion;
  }

  /** Resolves once the first list has been delivered to the handlers (or rejects when stopped first). */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(new Error('stopped before the cache synced'));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.stopController.signal.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopController.abort(new WatchEnded('stopped'));
    this.currentWatch?.abort(new WatchEnded('stopped'));
    await this.running;
  }

  private get stopped(): boolean {
    return this.stopController.signal.aborted;
  }

  private async run(): Promise<void> {
    let state = initialLoopState(this.options);
    let lastList = 0;
    while (!this.stopped) {
      let result: RoundResult;
      try {
        if (state.needList) {
          await this.listAndReplace();
          state = { ...state, needList: false };
          lastList = Date.now();
        }
        const relistIn = relistDelayMs(lastList, Date.now(), this.options.relistIntervalMs);
        result = { ended: await this.watchOnce(relistIn) };
      } catch (err) {
        if (this.stopped) break;
        result = { failed: classifyFailure(err) };
        if (result.failed === 'gone') {
          // The stored resourceVersion is too old: only a fresh list can continue.
          this.log.info(
            { resourceVersion: this.resourceVersion },
            'resourceVersion expired (410 Gone), re-listing',
          );
        } else {
          this.log.warn({ err, retryInMs: Math.round(state.backoffMs) }, 'list/watch failed, retrying');
        }
      }
      const step = nextLoopStep(state, result, this.options, Math.random());
      state = step.state;
      this.metrics?.restarts.inc({ resource: this.options.resource.plural, reason: step.reason });
      if (step.sleepMs !== undefined) {
        try {
          await sleep(step.sleepMs, undefined, { signal: this.stopController.signal });
        } catch {
          break;
        }
      }
    }
  }

  private baseQuery(): Query {
    return { labelSelector: this.options.labelSelector, fieldSelector: this.options.fieldSelector };
  }

  /** A consistent, paginated list; the cache is replaced and the differences are delivered to the handlers. */
  private async listAndReplace(): Promise<void> {
    this.metrics?.lists.inc({ resource: this.options.resource.plural });
    const fresh = new Map<string, T>();
    let listRV = '';
    let limit: number | undefined = this.options.pageSize;
    let cont: string | undefined;
    for (;;) {
      let page;
      try {
        page = await this.options.client.request<{
          metadata?: { resourceVersion?: string; continue?: string };
          items?: T[];
        }>('GET', this.path, {
          query: { ...this.baseQuery(), limit, continue: cont },
          signal: this.stopController.signal,
        });
      } catch (err) {
        if (listPageRecovery(cont !== undefined, err) === 'restart-unpaginated') {
          fresh.clear();
          cont = undefined;
          limit = undefined;
          continue;
        }
        throw err;
      }
      const transform = this.options.transform;
      for (const item of page.items ?? []) fresh.set(objectKey(item), transform ? transform(item) : item);
      listRV = page.metadata?.resourceVersion ?? listRV;
      cont = page.metadata?.continue || undefined;
      if (!cont) break;
    }
    if (this.stopped) return;
    for (const delta of replaceDeltas(this.store.entries(), fresh)) this.deliver(delta);
    this.resourceVersion = listRV;
    this.log.debug({ count: fresh.size, resourceVersion: listRV }, 'listed');
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  /**
   * Watches from the stored resourceVersion until the server closes the
   * stream ('closed'), the silence watchdog fires ('silent') or the periodic
   * re-list is due ('relist'). Throws on errors (ApiError 410 included).
   */
  private async watchOnce(relistInMs: number): Promise<'closed' | 'silent' | 'relist'> {
    const controller = new AbortController();
    this.currentWatch = controller;
    if (this.stopped) controller.abort(new WatchEnded('stopped'));
    let lastActivity = performance.now();
    let silenceTimer: NodeJS.Timeout | undefined;
    const checkSilence = () => {
      const check = watchdogCheck(lastActivity, performance.now(), this.options.silenceTimeoutMs);
      if (check.restart) controller.abort(new WatchEnded('silent'));
      else silenceTimer = setTimeout(checkSilence, check.checkInMs);
    };
    const relistTimer = setTimeout(() => controller.abort(new WatchEnded('relist')), relistInMs);
    const query: Query = {
      ...this.baseQuery(),
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: watchTimeoutSeconds(this.options.minWatchTimeoutSeconds, Math.random()),
    };
    try {
      silenceTimer = setTimeout(checkSilence, this.options.silenceTimeoutMs);
      for await (const event of this.options.client.watch<T>(this.path, query, controller.signal)) {
        lastActivity = performance.now();
        this.handleEvent(event.type, event.object);
      }
      return 'closed';
    } catch (err) {
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : undefined;
      if (reason instanceof WatchEnded) {
        if (reason.why === 'stopped') throw reason;
        if (reason.why === 'silent') {
          this.log.warn(
            { silenceMs: this.options.silenceTimeoutMs },
            'watch silent for too long, restarting it',
          );
        }
        return reason.why;
      }
      throw err;
    } finally {
      clearTimeout(silenceTimer);
      clearTimeout(relistTimer);
      this.currentWatch = undefined;
      // Ends the HTTP stream if we left the loop early (handler exception, etc.).
      controller.abort(new WatchEnded('stopped'));
    }
  }

  private handleEvent(type: string, obj: T): void {
    const transform = this.options.transform;
    const isObject = type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED';
    const effect = applyWatchEvent(type, transform && isObject ? transform(obj) : obj, (key) =>
      this.store.get(key),
    );
    if (effect.error) throw effect.error;
    if (effect.delta) this.deliver(effect.delta);
    if (effect.resourceVersion) this.resourceVersion = effect.resourceVersion;
  }

  /** Applies a delta to the store, then calls every handler for it. */
  private deliver(delta: Delta<T>): void {
    this.store.apply(delta);
    for (const h of this.handlers) {
      switch (delta.type) {
        case 'add':
          this.safely(() => h.add?.(delta.obj));
          break;
        case 'update':
          this.safely(() => h.update?.(delta.oldObj, delta.obj));
          break;
        case 'delete':
          this.safely(() => h.delete?.(delta.obj));
          break;
      }
    }
  }

  /** A handler bug must not kill the watch loop. */
  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, 'informer handler threw');
    }
  }
}

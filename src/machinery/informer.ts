// A list+watch cache of wire-JSON objects, in the spirit of client-go's
// reflector + store, hardened against client-node's known watch failures
// (silent half-open watches, error-then-stop, reconnect storms):
// - resourceVersion tracking; a clean server close re-watches from it;
// - any other failure restarts the watch with exponential backoff;
// - 410 Gone (HTTP or an ERROR event) re-lists and diffs the cache;
// - a silence watchdog restarts a watch that delivered nothing (not even a
//   bookmark) for too long; bookmarks are requested so a quiet watch is not silent;
// - a periodic re-list repairs anything a watch may have missed.
// Handlers receive add(obj), update(old, new), delete(lastKnown).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { isGone, ApiError, resourcePath, type KubeClient, type Query, type Resource } from './kube.ts';

export interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string };
}

export interface InformerHandlers<T> {
  add?(obj: T): void;
  update?(oldObj: T, newObj: T): void;
  delete?(obj: T): void;
}

export interface InformerOptions {
  client: KubeClient;
  resource: Resource;
  /** Restrict to one namespace; all namespaces (or cluster scope) when absent. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  logger: Logger;
  /** Items per list page. */
  pageSize?: number;
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

export const objectKey = (obj: KubeObject): string =>
  obj.metadata?.namespace
    ? `${obj.metadata.namespace}/${obj.metadata.name ?? ''}`
    : (obj.metadata?.name ?? '');

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
    InformerOptions;
  private readonly path: string;
  private readonly log: Logger;
  private readonly items = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly indexers = new Map<
    string,
    { fn: (obj: T) => string[]; index: Map<string, Set<string>> }
  >();
  private readonly metrics: ReturnType<typeof informerMetrics> | undefined;
  private resourceVersion = '';
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private running: Promise<void> | undefined;
  private readonly stopController = new AbortController();
  private currentWatch: AbortController | undefined;

  constructor(options: InformerOptions) {
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
    if (this.synced) for (const obj of this.items.values()) this.safely(() => handlers.add?.(obj));
  }

  /** Maintains a secondary index: `fn` returns the index values an object is filed under. */
  addIndexer(name: string, fn: (obj: T) => string[]): void {
    const index = new Map<string, Set<string>>();
    this.indexers.set(name, { fn, index });
    for (const [key, obj] of this.items) for (const v of fn(obj)) addToSet(index, v, key);
  }

  /** Objects filed under `value` in the named index. */
  byIndex(name: string, value: string): T[] {
    const keys = this.indexers.get(name)?.index.get(value);
    if (!keys) return [];
    const out: T[] = [];
    for (const k of keys) {
      const obj = this.items.get(k);
      if (obj) out.push(obj);
    }
    return out;
  }

  /** The cached object for `namespace/name` (or `name` for cluster-scoped resources). */
  get(key: string): T | undefined {
    return this.items.get(key);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  size(): number {
    return this.items.size;
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
    let needList = true;
    let lastList = 0;
    let backoffMs = this.options.backoffInitialMs;
    while (!this.stopped) {
      try {
        if (needList) {
          await this.listAndReplace();
          needList = false;
          lastList = Date.now();
        }
        const relistIn = Math.max(0, lastList + this.options.relistIntervalMs - Date.now());
        const outcome = await this.watchOnce(relistIn);
        if (outcome === 'relist') needList = true;
        this.metrics?.restarts.inc({ resource: this.options.resource.plural, reason: outcome });
        // A watch that ran normally resets the backoff (client-go resets after a quiet period).
        backoffMs = this.options.backoffInitialMs;
      } catch (err) {
        if (this.stopped) break;
        if (isGone(err)) {
          // The stored resourceVersion is too old: only a fresh list can continue.
          this.log.info(
            { resourceVersion: this.resourceVersion },
            'resourceVersion expired (410 Gone), re-listing',
          );
          this.metrics?.restarts.inc({ resource: this.options.resource.plural, reason: 'gone' });
          needList = true;
          continue;
        }
        this.log.warn({ err, retryInMs: Math.round(backoffMs) }, 'list/watch failed, retrying');
        this.metrics?.restarts.inc({ resource: this.options.resource.plural, reason: 'error' });
        try {
          // Jitter keeps many informers from reconnecting in lockstep after an apiserver restart.
          await sleep(backoffMs * (1 + Math.random() * 0.2), undefined, {
            signal: this.stopController.signal,
          });
        } catch {
          break;
        }
        backoffMs = Math.min(this.options.backoffMaxMs, backoffMs * 2);
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
        if (cont && isGone(err)) {
          // The continue token expired mid-list: start over in one unpaginated request, as client-go's pager does.
          fresh.clear();
          cont = undefined;
          limit = undefined;
          continue;
        }
        throw err;
      }
      for (const item of page.items ?? []) fresh.set(objectKey(item), item);
      listRV = page.metadata?.resourceVersion ?? listRV;
      cont = page.metadata?.continue || undefined;
      if (!cont) break;
    }
    if (this.stopped) return;
    const old = new Map(this.items);
    for (const [key, obj] of fresh) {
      const prev = old.get(key);
      old.delete(key);
      if (!prev) this.insert(key, obj, undefined);
      else if (prev.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.insert(key, obj, prev);
    }
    for (const [key, prev] of old) this.remove(key, prev);
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
    let silenceTimer: NodeJS.Timeout | undefined;
    const armSilence = () => {
      clearTimeout(silenceTimer);
      silenceTimer = setTimeout(
        () => controller.abort(new WatchEnded('silent')),
        this.options.silenceTimeoutMs,
      );
    };
    const relistTimer = setTimeout(() => controller.abort(new WatchEnded('relist')), relistInMs);
    const min = this.options.minWatchTimeoutSeconds;
    const query: Query = {
      ...this.baseQuery(),
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: Math.floor(min * (1 + Math.random())),
    };
    try {
      armSilence();
      for await (const event of this.options.client.watch<T>(this.path, query, controller.signal)) {
        armSilence();
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
    switch (type) {
      case 'ADDED':
      case 'MODIFIED': {
        const key = objectKey(obj);
        this.insert(key, obj, this.items.get(key));
        break;
      }
      case 'DELETED': {
        const key = objectKey(obj);
        if (this.items.has(key)) this.remove(key, obj);
        break;
      }
      case 'BOOKMARK':
        break;
      case 'ERROR': {
        const status = obj as { code?: number; reason?: string; message?: string };
        throw new ApiError(
          status.code ?? 500,
          status.reason ?? '',
          `watch error: ${status.message ?? ''}`,
          status,
        );
      }
      default:
        return;
    }
    const rv = obj.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
  }

  private insert(key: string, obj: T, prev: T | undefined): void {
    if (prev) this.unindex(key, prev);
    this.items.set(key, obj);
    this.index(key, obj);
    for (const h of this.handlers) {
      if (prev) this.safely(() => h.update?.(prev, obj));
      else this.safely(() => h.add?.(obj));
    }
  }

  private remove(key: string, lastKnown: T): void {
    const prev = this.items.get(key);
    if (prev) this.unindex(key, prev);
    this.items.delete(key);
    for (const h of this.handlers) this.safely(() => h.delete?.(lastKnown));
  }

  private index(key: string, obj: T): void {
    for (const { fn, index } of this.indexers.values()) for (const v of fn(obj)) addToSet(index, v, key);
  }

  private unindex(key: string, obj: T): void {
    for (const { fn, index } of this.indexers.values()) {
      for (const v of fn(obj)) {
        const set = index.get(v);
        set?.delete(key);
        if (set?.size === 0) index.delete(v);
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

function addToSet(index: Map<string, Set<string>>, value: string, key: string): void {
  let set = index.get(value);
  if (!set) index.set(value, (set = new Set()));
  set.add(key);
}

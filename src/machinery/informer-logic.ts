// The informer's decisions, as pure functions over plain objects and an
// injected clock and random source; informer.ts is the I/O shell that lists,
// watches, sleeps and calls these. They follow client-go's tools/cache:
// - applyWatchEvent ↔ reflector.go watchHandler (ADDED/MODIFIED/DELETED update
//   the store, BOOKMARK only moves the resourceVersion, ERROR ends the watch
//   with the Status it carries);
// - replaceDeltas ↔ DeltaFIFO.Replace + the shared informer's handler dispatch
//   after a relist: an add for a new key, an update only when the
//   resourceVersion changed (client-go sends a Replaced/Sync delta for every
//   object and handlers skip same-RV updates; we skip them here), and a delete
//   for every key the list no longer holds (client-go's
//   DeletedFinalStateUnknown; our handlers receive the last known object itself);
// - IndexedStore ↔ threadSafeStore with its indexers, kept consistent on every change;
// - nextLoopStep ↔ reflector.go ListAndWatch's retry loop: 410 Gone (an HTTP
//   410 or a watch ERROR event) re-lists at once, any other failure restarts
//   with exponential backoff and jitter (client-go: 800 ms → 30 s), a watch that
//   ended normally resets the backoff;
// - watchdogCheck, relistDelayMs, watchTimeoutSeconds: the silence watchdog
//   (client-node's watches stall silently on half-open connections), the
//   periodic re-list and the server-side watch timeout in [min, 2·min).
import { ApiError, isGone } from './kube.ts';

export interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string };
}

/** The store key, client-go's MetaNamespaceKeyFunc: `namespace/name`, or `name` when cluster-scoped. */
export const objectKey = (obj: KubeObject): string =>
  obj.metadata?.namespace
    ? `${obj.metadata.namespace}/${obj.metadata.name ?? ''}`
    : (obj.metadata?.name ?? '');

/** One change to the store and the handler call it produces. */
export type Delta<T> =
  | { type: 'add'; key: string; obj: T }
  | { type: 'update'; key: string; oldObj: T; obj: T }
  /** `obj` is what the delete handler receives: the event's object, or the last known one after a relist. */
  | { type: 'delete'; key: string; obj: T };

/** What one watch event does. */
export type WatchEventEffect<T> = {
  /** The store change, if any (none for bookmarks, unknown types and deletes of unknown keys). */
  delta?: Delta<T>;
  /** The resourceVersion to resume from afterwards, when the event moves it. */
  resourceVersion?: string;
  /** Set for an ERROR event: the watch ends with this error (410 → re-list, anything else → restart with backoff). */
  error?: ApiError;
};

/** Decides what a watch event does, given the cached object for its key. */
export function applyWatchEvent<T extends KubeObject>(
  type: string,
  obj: T,
  cached: (key: string) => T | undefined,
): WatchEventEffect<T> {
  const rv = obj.metadata?.resourceVersion || undefined;
  switch (type) {
    case 'ADDED':
    case 'MODIFIED': {
      const key = objectKey(obj);
      const prev = cached(key);
      const delta: Delta<T> = prev ? { type: 'update', key, oldObj: prev, obj } : { type: 'add', key, obj };
      return { delta, resourceVersion: rv };
    }
    case 'DELETED': {
      const key = objectKey(obj);
      return cached(key)
        ? { delta: { type: 'delete', key, obj }, resourceVersion: rv }
        : { resourceVersion: rv };
    }
    case 'BOOKMARK':
      return { resourceVersion: rv };
    case 'ERROR': {
      const status = obj as { code?: number; reason?: string; message?: string };
      return {
        error: new ApiError(
          status.code ?? 500,
          status.reason ?? '',
          `watch error: ${status.message ?? ''}`,
          status,
        ),
      };
    }
    default:
      return {};
  }
}

/**
 * The deltas that turn `current` into `fresh` (a full list): adds and updates
 * in list order, then deletes in cache order. An object whose resourceVersion
 * did not change produces nothing.
 */
export function replaceDeltas<T extends KubeObject>(
  current: ReadonlyMap<string, T>,
  fresh: ReadonlyMap<string, T>,
): Delta<T>[] {
  const deltas: Delta<T>[] = [];
  for (const [key, obj] of fresh) {
    const prev = current.get(key);
    if (!prev) deltas.push({ type: 'add', key, obj });
    else if (prev.metadata?.resourceVersion !== obj.metadata?.resourceVersion)
      deltas.push({ type: 'update', key, oldObj: prev, obj });
  }
  for (const [key, prev] of current) if (!fresh.has(key)) deltas.push({ type: 'delete', key, obj: prev });
  return deltas;
}

/** The cache: objects by key plus secondary indexes, updated only through deltas so the indexes never drift. */
export class IndexedStore<T> {
  private readonly items = new Map<string, T>();
  private readonly indexers = new Map<
    string,
    { fn: (obj: T) => string[]; index: Map<string, Set<string>> }
  >();

  /** Adds an index: `fn` returns the values an object is filed under; existing objects are indexed at once. */
  addIndexer(name: string, fn: (obj: T) => string[]): void {
    const index = new Map<string, Set<string>>();
    this.indexers.set(name, { fn, index });
    for (const [key, obj] of this.items) for (const v of fn(obj)) addToSet(index, v, key);
  }

  /** Applies one delta to the objects and every index. */
  apply(delta: Delta<T>): void {
    const prev = this.items.get(delta.key);
    if (prev !== undefined) this.unindex(delta.key, prev);
    if (delta.type === 'delete') {
      this.items.delete(delta.key);
      return;
    }
    this.items.set(delta.key, delta.obj);
    this.index(delta.key, delta.obj);
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  /** The objects by key (read-only view, e.g. for replaceDeltas). */
  entries(): ReadonlyMap<string, T> {
    return this.items;
  }

  list(): T[] {
    return [...this.items.values()];
  }

  size(): number {
    return this.items.size;
  }

  /** Objects filed under `value` in the named index. */
  byIndex(name: string, value: string): T[] {
    const keys = this.indexers.get(name)?.index.get(value);
    if (!keys) return [];
    const out: T[] = [];
    for (const k of keys) {
      const obj = this.items.get(k);
      if (obj !== undefined) out.push(obj);
    }
    return out;
  }

  /** The index values of `name` and the keys filed under each (for checks and debugging). */
  indexKeys(name: string): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [v, keys] of this.indexers.get(name)?.index ?? []) out.set(v, [...keys].sort());
    return out;
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
}

function addToSet(index: Map<string, Set<string>>, value: string, key: string): void {
  let set = index.get(value);
  if (!set) index.set(value, (set = new Set()));
  set.add(key);
}

export interface BackoffOptions {
  backoffInitialMs: number;
  backoffMaxMs: number;
}

/** The list/watch loop's state between iterations. */
export interface LoopState {
  /** The next iteration lists first (initially, after 410 Gone, when the periodic re-list is due). */
  needList: boolean;
  /** Delay before the next restart after a failure. */
  backoffMs: number;
}

export const initialLoopState = (o: BackoffOptions): LoopState => ({
  needList: true,
  backoffMs: o.backoffInitialMs,
});

/** How a list+watch round ended: the watch ended normally, or the list or watch failed. */
export type RoundResult = { ended: 'closed' | 'silent' | 'relist' } | { failed: 'gone' | 'error' };

/** Why the watch is restarted (the metric's `reason` label). */
export type RestartReason = 'closed' | 'silent' | 'relist' | 'gone' | 'error';

export interface LoopStep {
  state: LoopState;
  reason: RestartReason;
  /** Wait this long before the next round (only after a failure other than 410). */
  sleepMs?: number;
}

/** An error from a list or a watch: 410 Gone (HTTP status or ERROR event, reason Expired) needs a fresh list. */
export const classifyFailure = (err: unknown): 'gone' | 'error' => (isGone(err) ? 'gone' : 'error');

/**
 * What follows a round: a watch that ended normally resets the backoff (and
 * re-lists when the periodic re-list ended it); 410 Gone re-lists at once; any
 * other failure sleeps backoff·[1, 1.2) (jitter against lockstep reconnects)
 * and doubles the backoff up to its maximum. `random` ∈ [0, 1).
 */
export function nextLoopStep(
  state: LoopState,
  result: RoundResult,
  o: BackoffOptions,
  random: number,
): LoopStep {
  if ('ended' in result) {
    return {
      state: { needList: state.needList || result.ended === 'relist', backoffMs: o.backoffInitialMs },
      reason: result.ended,
    };
  }
  if (result.failed === 'gone') return { state: { ...state, needList: true }, reason: 'gone' };
  return {
    state: { ...state, backoffMs: Math.min(o.backoffMaxMs, state.backoffMs * 2) },
    reason: 'error',
    sleepMs: state.backoffMs * (1 + random * 0.2),
  };
}

/** Time left until the periodic re-list is due. */
export const relistDelayMs = (lastListAt: number, now: number, relistIntervalMs: number): number =>
  Math.max(0, lastListAt + relistIntervalMs - now);

/** The server-side watch timeout, a random value in [min, 2·min) seconds as client-go's reflector picks. */
export const watchTimeoutSeconds = (minWatchTimeoutSeconds: number, random: number): number =>
  Math.floor(minWatchTimeoutSeconds * (1 + random));

/** The silence watchdog: restart once nothing arrived for silenceTimeoutMs, else check again when it could. */
export function watchdogCheck(
  lastActivityAt: number,
  now: number,
  silenceTimeoutMs: number,
): { restart: true } | { restart: false; checkInMs: number } {
  const silentFor = now - lastActivityAt;
  return silentFor >= silenceTimeoutMs
    ? { restart: true }
    : { restart: false, checkInMs: silenceTimeoutMs - silentFor };
}

/** A list page failed: an expired continue token restarts the list in one unpaginated request (client-go's pager). */
export const listPageRecovery = (hadContinue: boolean, err: unknown): 'restart-unpaginated' | 'fail' =>
  hadContinue && isGone(err) ? 'restart-unpaginated' : 'fail';

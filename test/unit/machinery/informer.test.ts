// The informer's decisions (src/machinery/informer-logic.ts) with plain
// objects: what a watch event does to the store and which handler it calls,
// the deltas of a relist (client-go DeltaFIFO.Replace as our shell applies it),
// the list/watch loop's restart, relist and backoff decisions (reflector
// ListAndWatch), the silence watchdog, and indexes staying consistent.
// The I/O shell itself is covered against a real API server in
// test/e2e/controller-informer.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/machinery/kube.ts';
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
  type LoopState,
  type RoundResult,
} from '../../../src/machinery/informer-logic.ts';

interface Obj {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  node?: string;
}

const obj = (name: string, rv?: string, node?: string): Obj => ({
  metadata: { name, namespace: 'ns', ...(rv ? { resourceVersion: rv } : {}) },
  ...(node ? { node } : {}),
});

/** The handler calls a delta produces, as the shell makes them. */
const call = (d: Delta<Obj>): string =>
  d.type === 'update'
    ? `update ${d.key} ${d.oldObj.metadata.resourceVersion}→${d.obj.metadata.resourceVersion}`
    : `${d.type} ${d.key} ${d.obj.metadata.resourceVersion}`;

/** A store plus the shell's bookkeeping, driven only through the pure functions. */
function harness(initial: Obj[] = []) {
  const store = new IndexedStore<Obj>();
  store.addIndexer('node', (o) => (o.node ? [o.node] : []));
  for (const o of initial) store.apply({ type: 'add', key: objectKey(o), obj: o });
  let resourceVersion = '';
  const calls: string[] = [];
  return {
    store,
    calls,
    rv: () => resourceVersion,
    event(type: string, o: Obj | Record<string, unknown>) {
      const effect = applyWatchEvent(type, o as Obj, (k) => store.get(k));
      if (effect.error) return effect.error;
      if (effect.delta) {
        store.apply(effect.delta);
        calls.push(call(effect.delta));
      }
      if (effect.resourceVersion) resourceVersion = effect.resourceVersion;
      return undefined;
    },
    relist(items: Obj[], listRV: string) {
      const fresh = new Map(items.map((o) => [objectKey(o), o]));
      for (const d of replaceDeltas(store.entries(), fresh)) {
        store.apply(d);
        calls.push(call(d));
      }
      resourceVersion = listRV;
    },
  };
}

describe('applyWatchEvent', () => {
  const cached = obj('a', '1');
  const table: Array<{
    name: string;
    type: string;
    object: Obj | Record<string, unknown>;
    delta?: string;
    rv?: string;
    error?: { code: number; reason: string };
  }> = [
    { name: 'ADDED of a new key → add', type: 'ADDED', object: obj('b', '5'), delta: 'add ns/b 5', rv: '5' },
    {
      name: 'ADDED of a cached key → update',
      type: 'ADDED',
      object: obj('a', '5'),
      delta: 'update ns/a 1→5',
      rv: '5',
    },
    {
      name: 'MODIFIED of a cached key → update',
      type: 'MODIFIED',
      object: obj('a', '6'),
      delta: 'update ns/a 1→6',
      rv: '6',
    },
    {
      name: 'MODIFIED of an unknown key → add',
      type: 'MODIFIED',
      object: obj('c', '7'),
      delta: 'add ns/c 7',
      rv: '7',
    },
    {
      name: 'DELETED of a cached key → delete with the event’s object',
      type: 'DELETED',
      object: obj('a', '8'),
      delta: 'delete ns/a 8',
      rv: '8',
    },
    {
      name: 'DELETED of an unknown key → no handler, resourceVersion moves',
      type: 'DELETED',
      object: obj('zz', '9'),
      rv: '9',
    },
    { name: 'BOOKMARK → only the resourceVersion', type: 'BOOKMARK', object: obj('', '10'), rv: '10' },
    { name: 'BOOKMARK without a resourceVersion → nothing', type: 'BOOKMARK', object: obj('') },
    {
      name: 'ERROR → ends the watch with its Status, resourceVersion unchanged',
      type: 'ERROR',
      object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' },
      error: { code: 410, reason: 'Expired' },
    },
    {
      name: 'ERROR without a code → 500',
      type: 'ERROR',
      object: { kind: 'Status', message: 'internal' },
      error: { code: 500, reason: '' },
    },
    { name: 'an unknown event type → ignored', type: 'SOMETHING', object: obj('a', '11') },
  ];
  it.each(table)('$name', ({ type, object, delta, rv, error }) => {
    const effect = applyWatchEvent(type, object as Obj, (k) => (k === 'ns/a' ? cached : undefined));
    expect(effect.delta ? call(effect.delta) : undefined).toBe(delta);
    expect(effect.resourceVersion).toBe(rv);
    if (error) {
      expect(effect.error).toBeInstanceOf(ApiError);
      expect({ code: effect.error!.code, reason: effect.error!.reason }).toEqual(error);
      expect(effect.error!.message).toMatch(/^watch error: /);
    } else {
      expect(effect.error).toBeUndefined();
    }
  });

  it('keys cluster-scoped objects by name and namespaced ones by namespace/name', () => {
    expect(objectKey({ metadata: { name: 'n1' } })).toBe('n1');
    expect(objectKey({ metadata: { name: 'p', namespace: 'ns' } })).toBe('ns/p');
  });
});

describe('replaceDeltas (relist)', () => {
  const table: Array<{ name: string; cache: Obj[]; list: Obj[]; calls: string[] }> = [
    {
      name: 'first list: every object is an add',
      cache: [],
      list: [obj('a', '1'), obj('b', '2')],
      calls: ['add ns/a 1', 'add ns/b 2'],
    },
    { name: 'nothing changed: no calls', cache: [obj('a', '1')], list: [obj('a', '1')], calls: [] },
    {
      name: 'changed resourceVersion → update, vanished key → delete with the last known object, new key → add',
      cache: [obj('a', '1'), obj('b', '1'), obj('c', '1')],
      list: [obj('a', '1'), obj('b', '2'), obj('d', '3')],
      calls: ['update ns/b 1→2', 'add ns/d 3', 'delete ns/c 1'],
    },
    {
      name: 'an empty list deletes everything, in cache order',
      cache: [obj('b', '1'), obj('a', '2')],
      list: [],
      calls: ['delete ns/b 1', 'delete ns/a 2'],
    },
  ];
  it.each(table)('$name', ({ cache, list, calls }) => {
    const h = harness(cache);
    h.relist(list, '99');
    expect(h.calls).toEqual(calls);
    expect(h.store.list()).toEqual(expect.arrayContaining(list));
    expect(h.store.size()).toBe(list.length);
    expect(h.rv()).toBe('99');
  });

  it('after a watch ERROR 410 the loop re-lists and the relist delivers what the watch missed', () => {
    const h = harness();
    h.relist([obj('a', '1'), obj('b', '1'), obj('c', '1')], '1');
    h.calls.length = 0;
    const opts = { backoffInitialMs: 800, backoffMaxMs: 30_000 };
    let state: LoopState = { needList: false, backoffMs: 800 };

    h.event('MODIFIED', obj('a', '2'));
    const err = h.event('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' });
    expect(h.rv()).toBe('2'); // the ERROR did not move it
    const step = nextLoopStep(state, { failed: classifyFailure(err) }, opts, 0.5);
    expect(step).toEqual({ state: { needList: true, backoffMs: 800 }, reason: 'gone' });
    state = step.state;

    // Meanwhile b changed, c was deleted and d created, none of it seen by a watch.
    h.relist([obj('a', '2'), obj('b', '3'), obj('d', '4')], '4');
    expect(h.calls).toEqual(['update ns/a 1→2', 'update ns/b 1→3', 'add ns/d 4', 'delete ns/c 1']);
    expect(h.rv()).toBe('4');
    expect(state.needList).toBe(true);
  });
});

describe('the list/watch loop (nextLoopStep)', () => {
  const opts = { backoffInitialMs: 800, backoffMaxMs: 30_000 };
  const gone = new ApiError(410, 'Expired', 'too old resource version', {});
  const table: Array<{
    name: string;
    state: LoopState;
    result: RoundResult;
    random?: number;
    next: LoopState;
    reason: string;
    sleepMs?: number;
  }> = [
    {
      name: 'a watch the server closed re-watches at once, from the stored resourceVersion',
      state: { needList: false, backoffMs: 6400 },
      result: { ended: 'closed' },
      next: { needList: false, backoffMs: 800 },
      reason: 'closed',
    },
    {
      name: 'a silent watch is restarted without a list',
      state: { needList: false, backoffMs: 800 },
      result: { ended: 'silent' },
      next: { needList: false, backoffMs: 800 },
      reason: 'silent',
    },
    {
      name: 'the periodic relist ends the watch and lists',
      state: { needList: false, backoffMs: 1600 },
      result: { ended: 'relist' },
      next: { needList: true, backoffMs: 800 },
      reason: 'relist',
    },
    {
      name: '410 Gone re-lists at once, backoff untouched',
      state: { needList: false, backoffMs: 3200 },
      result: { failed: classifyFailure(gone) },
      next: { needList: true, backoffMs: 3200 },
      reason: 'gone',
    },
    {
      name: 'an ERROR event or failed request restarts after the backoff, which doubles',
      state: { needList: false, backoffMs: 800 },
      result: { failed: classifyFailure(new ApiError(500, 'InternalError', 'boom', {})) },
      random: 0,
      next: { needList: false, backoffMs: 1600 },
      reason: 'error',
      sleepMs: 800,
    },
    {
      name: 'the jitter adds up to 20 %',
      state: { needList: false, backoffMs: 1000 },
      result: { failed: 'error' },
      random: 0.5,
      next: { needList: false, backoffMs: 2000 },
      reason: 'error',
      sleepMs: 1100,
    },
    {
      name: 'a failed list keeps needing the list',
      state: { needList: true, backoffMs: 800 },
      result: { failed: classifyFailure(new TypeError('fetch failed')) },
      random: 0,
      next: { needList: true, backoffMs: 1600 },
      reason: 'error',
      sleepMs: 800,
    },
    {
      name: 'the backoff stops at its maximum',
      state: { needList: false, backoffMs: 25_600 },
      result: { failed: 'error' },
      random: 0,
      next: { needList: false, backoffMs: 30_000 },
      reason: 'error',
      sleepMs: 25_600,
    },
  ];
  it.each(table)('$name', ({ state, result, random, next, reason, sleepMs }) => {
    const step = nextLoopStep(state, result, opts, random ?? 0);
    expect(step.state).toEqual(next);
    expect(step.reason).toBe(reason);
    expect(step.sleepMs).toBe(sleepMs);
  });

  it('starts by listing, backs off 800 ms → 30 s through repeated failures, and resets after a normal watch', () => {
    let state = initialLoopState(opts);
    expect(state).toEqual({ needList: true, backoffMs: 800 });
    const sleeps: number[] = [];
    for (let i = 0; i < 7; i++) {
      const step = nextLoopStep(state, { failed: 'error' }, opts, 0);
      sleeps.push(step.sleepMs!);
      state = step.state;
    }
    expect(sleeps).toEqual([800, 1600, 3200, 6400, 12_800, 25_600, 30_000]);
    state = { ...state, needList: false }; // the list finally succeeded
    state = nextLoopStep(state, { ended: 'closed' }, opts, 0).state;
    expect(state).toEqual({ needList: false, backoffMs: 800 });
  });

  it('only an expired continue token restarts a list unpaginated', () => {
    expect(listPageRecovery(true, new ApiError(410, 'Expired', 'continue expired', {}))).toBe(
      'restart-unpaginated',
    );
    expect(listPageRecovery(false, new ApiError(410, 'Expired', 'gone', {}))).toBe('fail');
    expect(listPageRecovery(true, new ApiError(500, '', 'boom', {}))).toBe('fail');
  });

  it('the periodic relist is due relistIntervalMs after the last list', () => {
    expect(relistDelayMs(1_000, 1_000, 60_000)).toBe(60_000);
    expect(relistDelayMs(1_000, 31_000, 60_000)).toBe(30_000);
    expect(relistDelayMs(1_000, 90_000, 60_000)).toBe(0);
  });

  it('picks the server-side watch timeout in [min, 2·min)', () => {
    expect(watchTimeoutSeconds(300, 0)).toBe(300);
    expect(watchTimeoutSeconds(300, 0.5)).toBe(450);
    expect(watchTimeoutSeconds(300, 0.999_999)).toBe(599);
  });
});

describe('watchdogCheck (silence watchdog)', () => {
  const timeout = 180_000;
  const table: Array<{ name: string; lastActivityAt: number; now: number; expected: unknown }> = [
    {
      name: 'just started: wait the whole timeout',
      lastActivityAt: 0,
      now: 0,
      expected: { restart: false, checkInMs: 180_000 },
    },
    {
      name: 'an event arrived 60 s ago: check again in 120 s',
      lastActivityAt: 120_000,
      now: 180_000,
      expected: { restart: false, checkInMs: 120_000 },
    },
    {
      name: 'one millisecond short of the timeout: still waits',
      lastActivityAt: 0,
      now: 179_999,
      expected: { restart: false, checkInMs: 1 },
    },
    {
      name: 'silent for exactly the timeout: restart',
      lastActivityAt: 0,
      now: 180_000,
      expected: { restart: true },
    },
    { name: 'silent for longer: restart', lastActivityAt: 5_000, now: 500_000, expected: { restart: true } },
  ];
  it.each(table)('$name', ({ lastActivityAt, now, expected }) => {
    expect(watchdogCheck(lastActivityAt, now, timeout)).toEqual(expected);
  });

  it('a bookmark every minute keeps a quiet watch alive; it fires only after a real silence', () => {
    let lastActivity = 0;
    const fired: number[] = [];
    for (let now = 0; now <= 600_000; now += 10_000) {
      if (now <= 300_000 && now % 60_000 === 0) lastActivity = now; // bookmarks, then nothing
      if (watchdogCheck(lastActivity, now, timeout).restart) fired.push(now);
    }
    expect(fired[0]).toBe(480_000);
  });
});

describe('IndexedStore', () => {
  it('moves objects between index values on update and drops them on delete, with no empty entries left', () => {
    const h = harness();
    h.relist([obj('a', '1', 'n1'), obj('b', '1', 'n1'), obj('c', '1', 'n2')], '1');
    expect(h.store.indexKeys('node')).toEqual(
      new Map([
        ['n1', ['ns/a', 'ns/b']],
        ['n2', ['ns/c']],
      ]),
    );
    h.event('MODIFIED', obj('a', '2', 'n2'));
    h.event('DELETED', obj('b', '3', 'n1'));
    expect(h.store.indexKeys('node')).toEqual(new Map([['n2', ['ns/a', 'ns/c']]]));
    expect(h.store.byIndex('node', 'n1')).toEqual([]);
    expect(
      h.store
        .byIndex('node', 'n2')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['a', 'c']);

    // A relist that moves c, deletes a and brings b back.
    h.relist([obj('b', '4', 'n1'), obj('c', '5', 'n3')], '5');
    expect(h.store.indexKeys('node')).toEqual(
      new Map([
        ['n1', ['ns/b']],
        ['n3', ['ns/c']],
      ]),
    );
  });

  it('an indexer added late indexes what is already cached', () => {
    const store = new IndexedStore<Obj>();
    store.apply({ type: 'add', key: 'ns/a', obj: obj('a', '1', 'n1') });
    store.addIndexer('node', (o) => (o.node ? [o.node] : []));
    expect(store.byIndex('node', 'n1')).toEqual([obj('a', '1', 'n1')]);
    expect(store.byIndex('missing', 'n1')).toEqual([]);
  });

  it('any sequence of watch events and relists leaves the index equal to one built from the cache', () => {
    const names = ['a', 'b', 'c', 'd'];
    const nodes = ['n1', 'n2', 'n3', undefined];
    const anObj = fc
      .tuple(fc.constantFrom(...names), fc.integer({ min: 1, max: 50 }), fc.constantFrom(...nodes))
      .map(([n, rv, node]) => obj(n, String(rv), node));
    const step = fc.oneof(
      fc.record({
        kind: fc.constant('event' as const),
        type: fc.constantFrom('ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK'),
        o: anObj,
      }),
      fc.record({
        kind: fc.constant('relist' as const),
        items: fc.uniqueArray(anObj, { selector: (o) => o.metadata.name }),
      }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const h = harness();
        for (const s of steps) {
          if (s.kind === 'event') h.event(s.type, s.o);
          else h.relist(s.items, '1');
        }
        const expected = new Map<string, string[]>();
        for (const [key, o] of h.store.entries()) {
          if (o.node) expected.set(o.node, [...(expected.get(o.node) ?? []), key].sort());
        }
        const actual = h.store.indexKeys('node');
        expect(new Map([...actual].sort())).toEqual(new Map([...expected].sort()));
      }),
    );
  });
});

// The event correlator, following client-go's tools/record/events_cache_test.go
// (TestEventAggregatorByReasonFunc, TestEventAggregatorByReasonMessageFunc,
// TestEventCorrelator's scenarios, TestEventSpamFilter), plus the spam filter's
// refill, per-object isolation and the LRU bound. Upstream's SimpleIntervalClock
// moves on at every Now() call (several per event); here the clock moves by
// `intervalMs` per event, so the intervals are what each scenario means.
import { describe, expect, it } from 'vitest';
import {
  AGGREGATE_MESSAGE_PREFIX,
  aggregateByReason,
  aggregateMessage,
  DEFAULT_AGGREGATE_INTERVAL_MS,
  DEFAULT_AGGREGATE_MAX_EVENTS,
  DEFAULT_SPAM_BURST,
  EventCorrelator,
  EventNames,
  makeEvent,
  type CoreEvent,
  type Correlation,
  type EventCorrelatorOptions,
  type ObjectReference,
} from '../../../src/machinery/event-correlator.ts';
import { wireTime } from '../../../src/machinery/time.ts';

const START = Date.parse('2026-01-01T00:00:00Z');

/** A clock the test moves by hand. */
function manualClock() {
  let t = START;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const objectReference = (kind: string, name: string, namespace: string): ObjectReference => ({
  kind,
  name,
  namespace,
  uid: 'C934D34AFB20242',
  apiVersion: 'version',
  fieldPath: 'spec.containers{mycontainer}',
});

/** upstream's makeEvent: from the kubelet on node1, count 1. */
function event(reason: string, message: string, involvedObject: ObjectReference): CoreEvent {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${involvedObject.name}.0`, namespace: involvedObject.namespace ?? 'default' },
    involvedObject,
    reason,
    message,
    type: 'Normal',
    source: { component: 'kubelet', host: 'kublet.node1' },
    firstTimestamp: '',
    lastTimestamp: '',
    count: 1,
    reportingComponent: '',
    reportingInstance: '',
  };
}

const repeated = <T>(n: number, value: T): T[] => Array.from({ length: n }, () => value);

const unique = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    event(`reason-${i}`, `message-${i}`, objectReference('Pod', `pod-${i}`, `ns-${i}`)),
  );

/** Events that differ from the template only by message (upstream makeSimilarEvents). */
const similar = (n: number, template: CoreEvent) =>
  Array.from({ length: n }, (_, i) => ({
    ...template,
    message: `${template.message}-${i}-${template.message}`,
  }));

/** Plays events into a correlator as the recorder does: stamped with the clock, state updated after each write. */
function player(options: EventCorrelatorOptions & { intervalMs: number }) {
  const clock = manualClock();
  const correlator = new EventCorrelator({ ...options, now: clock.now });
  const play = (e: CoreEvent): Correlation => {
    clock.advance(options.intervalMs);
    const at = wireTime(clock.now());
    const result = correlator.correlate({
      ...e,
      metadata: { ...e.metadata, name: correlator.names.next(e.involvedObject.name, clock.now()) },
      firstTimestamp: at,
      lastTimestamp: at,
    });
    // A held-back event is not written, so there is no server state to take in.
    if (!result.skip) correlator.updateState(result.event);
    return result;
  };
  return { clock, correlator, play };
}

/** upstream validateEvent: count, the other fields, name prefix, and first == last timestamp exactly when count is 1. */
function expectEvent(result: Correlation, expected: CoreEvent, count: number) {
  expect(result.skip).toBe(false);
  const got = result.event;
  expect(got.firstTimestamp).not.toBe('');
  expect(got.lastTimestamp).not.toBe('');
  if (count > 1) expect(got.firstTimestamp).not.toBe(got.lastTimestamp);
  else expect(got.firstTimestamp).toBe(got.lastTimestamp);
  expect(got.metadata.name.startsWith(`${expected.involvedObject.name}.`)).toBe(true);
  expect({
    reason: got.reason,
    message: got.message,
    involvedObject: got.involvedObject,
    source: got.source,
    type: got.type,
    count: got.count,
  }).toEqual({
    reason: expected.reason,
    message: expected.message,
    involvedObject: expected.involvedObject,
    source: expected.source,
    type: expected.type,
    count,
  });
}

describe('the aggregation key (EventAggregatorByReasonFunc)', () => {
  it('is the same for events that differ only by message, and differs by reason', () => {
    const e1 = event('end-of-world', 'it was fun', objectReference('Pod', 'pod1', 'other'));
    const e2 = event('end-of-world', 'it was awful', objectReference('Pod', 'pod1', 'other'));
    const e3 = event('nevermind', 'it was a bug', objectReference('Pod', 'pod1', 'other'));
    const [aggregate1, local1] = aggregateByReason(e1);
    const [aggregate2, local2] = aggregateByReason(e2);
    const [aggregate3] = aggregateByReason(e3);
    expect(aggregate1).toBe(aggregate2);
    expect(local1).not.toBe(local2);
    expect(aggregate1).not.toBe(aggregate3);
  });

  it('does not let one field run into the next (parts are separated)', () => {
    const a = event('r', 'm', objectReference('Pod', 'ab', 'c'));
    const b = event('r', 'm', objectReference('Pod', 'a', 'bc'));
    expect(aggregateByReason(a)[0]).not.toBe(aggregateByReason(b)[0]);
  });

  it('makes the aggregate message (EventAggregatorByReasonMessageFunc)', () => {
    const e = event('end-of-world', 'it was fun', objectReference('Pod', 'pod1', 'other'));
    expect(aggregateMessage(e)).toBe(`${AGGREGATE_MESSAGE_PREFIX}it was fun`);
    expect(AGGREGATE_MESSAGE_PREFIX).toBe('(combined from similar events): ');
  });
});

describe('EventCorrelator (upstream TestEventCorrelator)', () => {
  const ref = objectReference('Pod', 'my-pod', 'my-ns');
  const first = event('first', 'i am first', ref);
  const duplicate = event('duplicate', 'me again', ref);
  const uniqueEvent = event('unique', 'snowflake', ref);
  const similarEvent = event('similar', 'similar message', {
    ...ref,
    fieldPath: 'spec.containers{container1}',
  });
  const aggregateEvent = event(
    similarEvent.reason,
    aggregateMessage(similarEvent),
    similarEvent.involvedObject,
  );
  const similarButDifferentContainer = {
    ...similarEvent,
    involvedObject: { ...similarEvent.involvedObject, fieldPath: 'spec.containers{container2}' },
  };

  const scenarios: {
    name: string;
    previous: CoreEvent[];
    next: CoreEvent;
    intervalMs: number;
    expected?: CoreEvent;
    count?: number;
    skip?: boolean;
  }[] = [
    { name: 'create-a-single-event', previous: [], next: first, expected: first, count: 1, intervalMs: 5000 },
    {
      name: 'the-same-event-should-just-count',
      previous: repeated(1, duplicate),
      next: duplicate,
      expected: duplicate,
      count: 2,
      intervalMs: 5000,
    },
    {
      name: 'the-same-event-should-just-count-even-if-more-than-aggregate',
      previous: repeated(DEFAULT_AGGREGATE_MAX_EVENTS, duplicate),
      next: duplicate,
      expected: duplicate,
      count: DEFAULT_AGGREGATE_MAX_EVENTS + 1,
      intervalMs: 30_000,
    },
    {
      name: 'the-same-event-is-spam-if-happens-too-frequently',
      previous: repeated(DEFAULT_SPAM_BURST + 1, duplicate),
      next: duplicate,
      skip: true,
      intervalMs: 1000,
    },
    {
      name: 'create-many-unique-events',
      previous: unique(30),
      next: uniqueEvent,
      expected: uniqueEvent,
      count: 1,
      intervalMs: 5000,
    },
    {
      name: 'similar-events-should-aggregate-event',
      previous: similar(DEFAULT_AGGREGATE_MAX_EVENTS - 1, similarEvent),
      next: similarEvent,
      expected: aggregateEvent,
      count: 1,
      intervalMs: 5000,
    },
    {
      name: 'similar-events-many-times-should-count-the-aggregate',
      previous: similar(DEFAULT_AGGREGATE_MAX_EVENTS, similarEvent),
      next: similarEvent,
      expected: aggregateEvent,
      count: 2,
      intervalMs: 5000,
    },
    {
      name: 'events-from-different-containers-do-not-aggregate',
      previous: repeated(1, similarButDifferentContainer),
      next: similarEvent,
      expected: similarEvent,
      count: 1,
      intervalMs: 5000,
    },
    {
      name: 'similar-events-whose-interval-is-greater-than-aggregate-interval-do-not-aggregate',
      previous: similar(DEFAULT_AGGREGATE_MAX_EVENTS - 1, similarEvent),
      next: similarEvent,
      expected: similarEvent,
      count: 1,
      intervalMs: DEFAULT_AGGREGATE_INTERVAL_MS + 1000,
    },
    {
      // upstream resets only when the interval is greater than 600 s: exactly 600 s still aggregates.
      name: 'similar-events-exactly-the-aggregate-interval-apart-aggregate',
      previous: similar(DEFAULT_AGGREGATE_MAX_EVENTS - 1, similarEvent),
      next: similarEvent,
      expected: aggregateEvent,
      count: 1,
      intervalMs: DEFAULT_AGGREGATE_INTERVAL_MS,
    },
  ];

  it.each(scenarios)('$name', ({ previous, next, intervalMs, expected, count, skip }) => {
    const { play } = player({ intervalMs });
    for (const e of previous) play(e);
    const result = play(next);
    expect(result.skip).toBe(skip ?? false);
    if (!skip) expectEvent(result, expected!, count!);
  });

  it('a repeat is a patch of the first Event: its name, its firstTimestamp, count, lastTimestamp and message', () => {
    const { play } = player({ intervalMs: 5000 });
    const created = play(duplicate);
    expect(created).toMatchObject({ skip: false, event: { count: 1 } });
    expect(created.skip === false && created.patch).toBe(undefined);
    const repeat = play(duplicate);
    expect(repeat.skip).toBe(false);
    if (repeat.skip) return;
    expect(repeat.event.metadata.name).toBe(created.event.metadata.name);
    expect(repeat.event.firstTimestamp).toBe(created.event.firstTimestamp);
    expect(repeat.patch).toEqual({
      count: 2,
      lastTimestamp: repeat.event.lastTimestamp,
      message: 'me again',
    });
  });

  it('events with different reasons are never aggregated, however many', () => {
    const { play } = player({ intervalMs: 1000 });
    const results = Array.from({ length: 20 }, (_, i) => play(event(`Reason${i}`, `message ${i}`, ref)));
    expect(results.map((r) => [r.skip, r.event.message, r.event.count])).toEqual(
      Array.from({ length: 20 }, (_, i) => [false, `message ${i}`, 1]),
    );
  });

  it('the aggregate Event is one object: every later similar event counts on it', () => {
    const { play } = player({ intervalMs: 1000 });
    const results = similar(20, similarEvent).map(play);
    expect(results.slice(0, 9).map((r) => r.event.count)).toEqual(repeated(9, 1));
    expect(results.slice(0, 9).every((r) => !r.event.message.startsWith(AGGREGATE_MESSAGE_PREFIX))).toBe(
      true,
    );
    const aggregate = results.slice(9);
    expect(new Set(aggregate.map((r) => r.event.metadata.name)).size).toBe(1);
    expect(aggregate.map((r) => r.event.count)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    // The patch carries the latest message, prefixed.
    const last = aggregate.at(-1)!;
    expect(last.skip === false && last.patch?.message).toBe(
      `${AGGREGATE_MESSAGE_PREFIX}${similar(20, similarEvent)[19]!.message}`,
    );
  });

  it('after aggregating, a message still remembered counts on its own Event; the forgotten one on the aggregate', () => {
    const { play } = player({ intervalMs: 1000 });
    const messages = similar(10, similarEvent);
    const results = messages.map(play);
    expect(results[9]!.event.message.startsWith(AGGREGATE_MESSAGE_PREFIX)).toBe(true);
    // Ten were seen; the first one inserted was forgotten to keep nine.
    const again1 = play(messages[1]!);
    expect(again1.event.message).toBe(messages[1]!.message);
    expect(again1.event.count).toBe(2);
    expect(again1.event.metadata.name).toBe(results[1]!.event.metadata.name);
    const again0 = play(messages[0]!);
    expect(again0.event.message).toBe(`${AGGREGATE_MESSAGE_PREFIX}${messages[0]!.message}`);
    expect(again0.event.count).toBe(2);
    expect(again0.event.metadata.name).toBe(results[9]!.event.metadata.name);
  });

  it('the aggregation interval restarts with each similar event and expires after 600 s of quiet', () => {
    const { clock, play } = player({ intervalMs: 1000 });
    const messages = similar(12, similarEvent);
    for (const e of messages.slice(0, 10)) play(e);
    clock.advance(DEFAULT_AGGREGATE_INTERVAL_MS);
    // 601 s after the last similar one: a fresh record, the event stands on its own.
    const fresh = play(messages[10]!);
    expect(fresh.event.message).toBe(messages[10]!.message);
    expect(fresh.event.count).toBe(1);
  });

  it('the aggregate keeps the reporting component and instance of the events it combines', () => {
    const { play } = player({ intervalMs: 1000 });
    const reported = {
      ...similarEvent,
      reportingComponent: 'ctl',
      reportingInstance: 'ctl-1',
      action: 'Create',
    };
    const results = similar(10, reported).map(play);
    expect(results[9]!.event).toMatchObject({
      reportingComponent: 'ctl',
      reportingInstance: 'ctl-1',
      action: 'Create',
      message: `${AGGREGATE_MESSAGE_PREFIX}${similar(10, reported)[9]!.message}`,
    });
  });
});

describe('the spam filter (upstream TestEventSpamFilter, and its refill)', () => {
  const ref = objectReference('Pod', 'my-pod', 'my-ns');
  const original = event('original', 'i am first', ref);
  const differentReason = event('duplicate', 'me again', ref);
  const spam = event('original', 'me again', ref);
  const duplicate = event('duplicate', 'me again', ref);
  const byObjectAndReason = (e: CoreEvent) =>
    [
      e.source.component,
      e.source.host,
      e.involvedObject.kind,
      e.involvedObject.namespace,
      e.involvedObject.name,
      e.involvedObject.uid,
      e.involvedObject.apiVersion,
      e.reason,
    ].join('\u0000');

  it.each([
    {
      name: 'event should be reported as spam if object reference is the same for default spam filter',
      next: differentReason,
      skip: true,
    },
    {
      name: 'event should not be reported as spam if object reference is the same, but reason is different for custom spam filter',
      next: differentReason,
      skip: false,
      spamKeyFunc: byObjectAndReason,
    },
    {
      name: 'event should be reported as spam if object reference and reason is the same, but message is different for custom spam filter',
      next: spam,
      skip: true,
      spamKeyFunc: byObjectAndReason,
    },
  ])('$name', ({ next, skip, spamKeyFunc }) => {
    const { play } = player({ intervalMs: 1000, spamBurst: 1, ...(spamKeyFunc ? { spamKeyFunc } : {}) });
    expect(play(original).skip).toBe(false);
    const result = play(next);
    expect(result.skip).toBe(skip);
    if (!skip) expectEvent(result, next, 1);
  });

  it('lets 25 events about an object through, holds back the rest, and frees one token per 5 minutes', () => {
    const { clock, play } = player({ intervalMs: 0 });
    const results = Array.from({ length: 30 }, (_, i) => play(event(`R${i}`, `m${i}`, ref)));
    expect(results.map((r) => r.skip)).toEqual([...repeated(25, false), ...repeated(5, true)]);
    clock.advance(299_000);
    expect(play(event('Later', 'one', ref)).skip).toBe(true);
    clock.advance(1000);
    expect(play(event('Later', 'two', ref)).skip).toBe(false);
    expect(play(event('Later', 'three', ref)).skip).toBe(true);
  });

  it('keeps a bucket per source and object: another object, uid or source host is not held back', () => {
    const { play } = player({ intervalMs: 0 });
    for (let i = 0; i < 30; i++) play(event(`R${i}`, `m${i}`, ref));
    expect(play(event('R', 'm', ref)).skip).toBe(true);
    expect(play(event('R', 'm', { ...ref, name: 'other-pod' })).skip).toBe(false);
    expect(play(event('R', 'm', { ...ref, uid: 'a-new-uid' })).skip).toBe(false);
    expect(play({ ...event('R', 'm', ref), source: { component: 'kubelet', host: 'node2' } }).skip).toBe(
      false,
    );
  });

  it('a held-back repeat is still counted: the next write carries the full count', () => {
    const { clock, play } = player({ intervalMs: 1000 });
    const results = Array.from({ length: 30 }, () => play(duplicate));
    expect(results.filter((r) => !r.skip).map((r) => r.event.count)).toEqual(
      Array.from({ length: 25 }, (_, i) => i + 1),
    );
    clock.advance(300_000);
    const next = play(duplicate);
    expect(next.skip).toBe(false);
    expect(next.skip === false && next.patch?.count).toBe(31);
  });
});

describe('the caches', () => {
  const ref = objectReference('Pod', 'my-pod', 'my-ns');

  it('forget the least recently used key beyond their size: a forgotten repeat is a new Event', () => {
    const { play } = player({ intervalMs: 1000, cacheSize: 2 });
    const a = event('A', 'a', ref);
    const first = play(a);
    play(event('B', 'b', ref));
    expect(play(a).event.count).toBe(2); // a is the most recent now
    play(event('C', 'c', ref)); // evicts b
    play(event('D', 'd', ref)); // evicts a
    const again = play(a);
    expect(again.event.count).toBe(1);
    expect(again.event.metadata.name).not.toBe(first.event.metadata.name);
  });

  it('updateState takes in the server state but never lowers a count counted ahead of the writes', () => {
    const clock = manualClock();
    const correlator = new EventCorrelator({ now: clock.now });
    const stamp = (e: CoreEvent) => ({
      ...e,
      metadata: { ...e.metadata, name: correlator.names.next(e.involvedObject.name, clock.now()) },
    });
    const e = event('Repeat', 'again', ref);
    const created = correlator.correlate(stamp(e));
    correlator.correlate(stamp(e)); // count 2, queued behind the create
    correlator.updateState({
      ...created.event,
      metadata: { ...created.event.metadata, resourceVersion: '7' },
    });
    const third = correlator.correlate(stamp(e));
    expect(third.event.count).toBe(3);
    expect(third.event.metadata.name).toBe(created.event.metadata.name);
  });
});

describe('makeEvent and EventNames', () => {
  it('fills in a new Event as upstream makeEvent: count 1, the object namespace or default, source and reporting fields', () => {
    const at = START + 1500;
    const e = makeEvent(
      {
        involvedObject: { kind: 'Node', name: 'n1', apiVersion: 'v1', uid: 'u' },
        type: 'Normal',
        reason: 'Hello',
        message: 'hi',
        component: 'everynode-controller',
        instance: 'pod-1',
        action: 'Greet',
      },
      at,
      'n1.abc',
    );
    expect(e).toEqual({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'n1.abc', namespace: 'default' },
      involvedObject: { kind: 'Node', name: 'n1', apiVersion: 'v1', uid: 'u' },
      reason: 'Hello',
      message: 'hi',
      type: 'Normal',
      source: { component: 'everynode-controller', host: 'pod-1' },
      firstTimestamp: '2026-01-01T00:00:01Z',
      lastTimestamp: '2026-01-01T00:00:01Z',
      count: 1,
      reportingComponent: 'everynode-controller',
      reportingInstance: 'pod-1',
      action: 'Greet',
    });
  });

  it('names are <object>.<hex nanoseconds>, unique within one millisecond, a UUID when too long', () => {
    const names = new EventNames();
    const a = names.next('ds', START);
    const b = names.next('ds', START);
    expect(a).toBe(`ds.${(BigInt(START) * 1_000_000n).toString(16)}`);
    expect(b).not.toBe(a);
    expect(names.next('x'.repeat(250), START)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
  });
});

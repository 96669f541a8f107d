// client-go's event correlation (k8s.io/client-go/tools/record/events_cache.go),
// ported: what decides, for each event a component records, whether it becomes
// a new Event object, a count+1 on an existing one, or nothing at all. Pure: it
// takes plain core/v1 Event objects and a clock and returns decisions; the
// writer (events.ts) does the I/O.
//
// EventCorrelate runs three steps in upstream's order:
// 1. EventAggregator: events that differ only by message (same source,
//    involved object, type, reason, reporting controller and instance) are
//    counted per "aggregate key"; from the 10th distinct message within 600 s
//    on, the event is replaced by one "(combined from similar events): <message>"
//    event keyed by the aggregate key, so every later similar event lands on it.
// 2. EventLogger (eventObserve): a repeat of a key seen before becomes a patch
//    of the existing Event (count+1, lastTimestamp, message); otherwise a create.
// 3. EventSourceObjectSpamFilter: a token bucket per source + involved object
//    (burst 25, one token per 300 s); an event without a token is held back
//    (not written). Steps 1 and 2 have counted it already, so the next Event
//    written for the key carries the full count.
// Each of the three keeps at most 4096 keys (least recently used evicted).
//
// Where this differs from upstream, on purpose:
// - Key parts are joined with NUL (upstream joins with "", so "ab"+"c" and "a"+"bc" collide).
// - Once 10 messages are seen, one is forgotten to keep the set below the
//   threshold: upstream's sets.String.PopAny forgets an arbitrary one, here it
//   is the one inserted first (deterministic).
// - The aggregate Event keeps reportingComponent/reportingInstance and action
//   (upstream's copy leaves reportingController/Instance empty), so it reads
//   the same through events.k8s.io/v1.
// - updateState never moves a key's count backwards: the writer correlates each
//   event when it is recorded, ahead of the (sequential) writes, so the server's
//   answer to an earlier write may arrive after later events were counted.
import { LRUCache } from 'lru-cache';
import { wireTime } from './time.ts';
import { TokenBucket } from './token-bucket.ts';

export interface ObjectReference {
  apiVersion?: string | undefined;
  kind?: string | undefined;
  name?: string | undefined;
  namespace?: string | undefined;
  uid?: string | undefined;
  resourceVersion?: string | undefined;
  fieldPath?: string | undefined;
}

/** A core/v1 Event as written (the fields the recorder sets). */
export interface CoreEvent {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  involvedObject: ObjectReference;
  reason: string;
  message: string;
  type: string;
  source: { component: string; host?: string };
  /** metav1.Time wire strings (RFC 3339, whole seconds). */
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
  reportingComponent: string;
  reportingInstance: string;
  action?: string;
}

/** What a repeat writes on the existing Event (upstream's two-way merge patch has exactly these fields). */
export interface EventPatch {
  count: number;
  lastTimestamp: string;
  message: string;
}

export type Correlation =
  /** Write `event`: a create, or with `patch`, a patch of the existing Event (`event.metadata.name`). */
  | { skip: false; event: CoreEvent; patch?: EventPatch }
  /** Held back by the spam filter: nothing is written. `event` is what would have been. */
  | { skip: true; event: CoreEvent };

export const MAX_LRU_CACHE_ENTRIES = 4096;
/** A similar event (differing only by message) seen this many times within the interval is aggregated. */
export const DEFAULT_AGGREGATE_MAX_EVENTS = 10;
export const DEFAULT_AGGREGATE_INTERVAL_MS = 600_000;
/** A source may write 25 events about an object, then one every 5 minutes. */
export const DEFAULT_SPAM_BURST = 25;
export const DEFAULT_SPAM_QPS = 1 / 300;
export const AGGREGATE_MESSAGE_PREFIX = '(combined from similar events): ';

const join = (parts: readonly (string | undefined)[]) => parts.map((p) => p ?? '').join('\u0000');

/** Everything that makes two events the same (upstream getEventKey). */
export function eventKey(e: CoreEvent): string {
  const o = e.involvedObject;
  return join([
    e.source.component,
    e.source.host,
    o.kind,
    o.namespace,
    o.name,
    o.fieldPath,
    o.uid,
    o.apiVersion,
    e.type,
    e.reason,
    e.message,
  ]);
}

/** Source and involved object: the spam filter's bucket (upstream getSpamKey). */
export function spamKey(e: CoreEvent): string {
  const o = e.involvedObject;
  return join([e.source.component, e.source.host, o.kind, o.namespace, o.name, o.uid, o.apiVersion]);
}

/** [aggregate key, local key]: events equal but for the message share the first (upstream EventAggregatorByReasonFunc). */
export function aggregateByReason(e: CoreEvent): [string, string] {
  const o = e.involvedObject;
  return [
    join([
      e.source.component,
      e.source.host,
      o.kind,
      o.namespace,
      o.name,
      o.uid,
      o.apiVersion,
      e.type,
      e.reason,
      e.reportingComponent,
      e.reportingInstance,
    ]),
    e.message,
  ];
}

/** upstream EventAggregatorByReasonMessageFunc. */
export const aggregateMessage = (e: CoreEvent): string => AGGREGATE_MESSAGE_PREFIX + e.message;

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Event names, as upstream's util.GenerateEventName: `<object name>.<hex time in ns>`. Date has
 * milliseconds, so a per-generator sequence fills the nanoseconds and keeps names unique; a name
 * that would not be a valid DNS subdomain (too long) becomes a random UUID, as upstream.
 */
export class EventNames {
  private sequence = 0;
  next(objectName: string | undefined, ms: number): string {
    const nanos = BigInt(Math.trunc(ms)) * 1_000_000n + BigInt(this.sequence);
    this.sequence = (this.sequence + 1) % 1_000_000;
    const name = `${objectName ?? ''}.${nanos.toString(16)}`;
    return name.length <= 253 && DNS_SUBDOMAIN.test(name) ? name : crypto.randomUUID();
  }
}

interface AggregateRecord {
  /** Distinct messages seen in the interval (at most maxEvents - 1 kept). */
  localKeys: Set<string>;
  lastMs: number;
}

export interface EventAggregatorOptions {
  now: () => number;
  names: EventNames;
  cacheSize?: number;
  maxEvents?: number;
  maxIntervalMs?: number;
  keyFunc?: (e: CoreEvent) => [aggregateKey: string, localKey: string];
  messageFunc?: (e: CoreEvent) => string;
}

/** upstream EventAggregator. */
export class EventAggregator {
  private readonly cache: LRUCache<string, AggregateRecord>;
  private readonly o: Required<EventAggregatorOptions>;

  constructor(options: EventAggregatorOptions) {
    this.o = {
      cacheSize: MAX_LRU_CACHE_ENTRIES,
      maxEvents: DEFAULT_AGGREGATE_MAX_EVENTS,
      maxIntervalMs: DEFAULT_AGGREGATE_INTERVAL_MS,
      keyFunc: aggregateByReason,
      messageFunc: aggregateMessage,
      ...options,
    };
    this.cache = new LRUCache({ max: this.o.cacheSize });
  }

  /**
   * The event to write (the event itself, or the aggregate event once the
   * similar ones reach maxEvents) and its key for the EventLogger (the full
   * event key, or the aggregate key for an aggregate event).
   */
  aggregate(event: CoreEvent): { event: CoreEvent; key: string } {
    const now = this.o.now();
    const [aggregateKey, localKey] = this.o.keyFunc(event);
    let record = this.cache.get(aggregateKey);
    // No record, or one older than the interval: start afresh.
    if (!record || now - record.lastMs > this.o.maxIntervalMs) record = { localKeys: new Set(), lastMs: 0 };
    record.localKeys.add(localKey);
    record.lastMs = now;
    this.cache.set(aggregateKey, record);
    if (record.localKeys.size < this.o.maxEvents) return { event, key: eventKey(event) };

    // Keep the set below the threshold, so a message still in it counts on its own Event again.
    const oldest = record.localKeys.values().next().value;
    if (oldest !== undefined) record.localKeys.delete(oldest);
    const at = wireTime(now);
    return {
      // The same event under a new name, with the aggregate message, counted from one.
      event: {
        ...event,
        metadata: {
          name: this.o.names.next(event.involvedObject.name, now),
          namespace: event.metadata.namespace,
        },
        message: this.o.messageFunc(event),
        firstTimestamp: at,
        lastTimestamp: at,
        count: 1,
      },
      key: aggregateKey,
    };
  }
}

interface EventLog {
  count: number;
  firstTimestamp: string;
  name: string;
  resourceVersion: string | undefined;
}

/** upstream eventLogger: remembers the Event written for each key and turns a repeat into a patch. */
export class EventLogger {
  private readonly cache: LRUCache<string, EventLog>;

  constructor(cacheSize = MAX_LRU_CACHE_ENTRIES) {
    this.cache = new LRUCache({ max: cacheSize });
  }

  /** upstream eventObserve: the event to write (named as the existing one on a repeat) and, on a repeat, its patch. */
  observe(event: CoreEvent, key: string): { event: CoreEvent; patch?: EventPatch } {
    const last = this.cache.get(key);
    let observed: CoreEvent = { ...event, metadata: { ...event.metadata } };
    let patch: EventPatch | undefined;
    if (last && last.count > 0) {
      const { resourceVersion: _stale, ...metadata } = observed.metadata;
      observed = {
        ...observed,
        metadata: {
          ...metadata,
          name: last.name,
          ...(last.resourceVersion !== undefined ? { resourceVersion: last.resourceVersion } : {}),
        },
        firstTimestamp: last.firstTimestamp,
        count: last.count + 1,
      };
      patch = { count: observed.count, lastTimestamp: observed.lastTimestamp, message: observed.message };
    }
    this.remember(key, observed);
    return patch ? { event: observed, patch } : { event: observed };
  }

  /** upstream updateState: the server's answer to a write (kept unless it would lower the count). */
  updateState(event: CoreEvent): void {
    const key = eventKey(event);
    const known = this.cache.peek(key);
    if (known && known.name === event.metadata.name && known.count > event.count) return;
    this.remember(key, event);
  }

  private remember(key: string, event: CoreEvent): void {
    this.cache.set(key, {
      count: event.count,
      firstTimestamp: event.firstTimestamp,
      name: event.metadata.name,
      resourceVersion: event.metadata.resourceVersion,
    });
  }
}

export interface SpamFilterOptions {
  now: () => number;
  cacheSize?: number;
  burst?: number;
  /** Tokens per second. */
  qps?: number;
  keyFunc?: (e: CoreEvent) => string;
}

/** upstream EventSourceObjectSpamFilter: a token bucket per source + involved object. */
export class EventSourceObjectSpamFilter {
  private readonly cache: LRUCache<string, TokenBucket>;
  private readonly o: Required<SpamFilterOptions>;

  constructor(options: SpamFilterOptions) {
    this.o = {
      cacheSize: MAX_LRU_CACHE_ENTRIES,
      burst: DEFAULT_SPAM_BURST,
      qps: DEFAULT_SPAM_QPS,
      keyFunc: spamKey,
      ...options,
    };
    this.cache = new LRUCache({ max: this.o.cacheSize });
  }

  /** True when the event must be held back (no token left for its source and object). */
  filter(event: CoreEvent): boolean {
    const key = this.o.keyFunc(event);
    let bucket = this.cache.get(key);
    bucket ??= new TokenBucket({ qps: this.o.qps, burst: this.o.burst, now: this.o.now });
    const held = !bucket.tryTake();
    this.cache.set(key, bucket);
    return held;
  }
}

export interface EventCorrelatorOptions {
  /** Wall clock in epoch milliseconds (Event timestamps are wall time); injectable for tests. */
  now?: () => number;
  /** Size of each of the three LRU caches. */
  cacheSize?: number;
  spamBurst?: number;
  spamQps?: number;
  spamKeyFunc?: (e: CoreEvent) => string;
  maxEvents?: number;
  maxIntervalMs?: number;
  keyFunc?: (e: CoreEvent) => [string, string];
  messageFunc?: (e: CoreEvent) => string;
}

/** upstream EventCorrelator (NewEventCorrelatorWithOptions; unset options take upstream's defaults). */
export class EventCorrelator {
  readonly now: () => number;
  /** Names for new Events (the recorder's and the aggregator's), unique per correlator. */
  readonly names = new EventNames();
  private readonly aggregator: EventAggregator;
  private readonly logger: EventLogger;
  private readonly spamFilter: EventSourceObjectSpamFilter;

  constructor(options: EventCorrelatorOptions = {}) {
    this.now = options.now ?? Date.now;
    const cacheSize = options.cacheSize ?? MAX_LRU_CACHE_ENTRIES;
    this.aggregator = new EventAggregator({
      now: this.now,
      names: this.names,
      cacheSize,
      ...(options.maxEvents !== undefined ? { maxEvents: options.maxEvents } : {}),
      ...(options.maxIntervalMs !== undefined ? { maxIntervalMs: options.maxIntervalMs } : {}),
      ...(options.keyFunc ? { keyFunc: options.keyFunc } : {}),
      ...(options.messageFunc ? { messageFunc: options.messageFunc } : {}),
    });
    this.logger = new EventLogger(cacheSize);
    this.spamFilter = new EventSourceObjectSpamFilter({
      now: this.now,
      cacheSize,
      ...(options.spamBurst !== undefined ? { burst: options.spamBurst } : {}),
      ...(options.spamQps !== undefined ? { qps: options.spamQps } : {}),
      ...(options.spamKeyFunc ? { keyFunc: options.spamKeyFunc } : {}),
    });
  }

  /** upstream EventCorrelate: aggregate, then observe, then filter. */
  correlate(event: CoreEvent): Correlation {
    const aggregated = this.aggregator.aggregate(event);
    const observed = this.logger.observe(aggregated.event, aggregated.key);
    if (this.spamFilter.filter(observed.event)) return { skip: true, event: observed.event };
    return { skip: false, ...observed };
  }

  /** upstream UpdateState: what the server answered to a write. */
  updateState(event: CoreEvent): void {
    this.logger.updateState(event);
  }
}

export interface NewEventFields {
  involvedObject: ObjectReference;
  type: string;
  reason: string;
  message: string;
  /** `source.component` and `reportingComponent`. */
  component: string;
  /** `source.host` and `reportingInstance`. */
  instance?: string | undefined;
  action?: string | undefined;
}

/** A new Event about an object at `ms`, as upstream's makeEvent + generateEvent fill it in (count 1, namespace of the object or "default"). */
export function makeEvent(fields: NewEventFields, ms: number, name: string): CoreEvent {
  const at = wireTime(ms);
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace: fields.involvedObject.namespace || 'default' },
    involvedObject: fields.involvedObject,
    reason: fields.reason,
    message: fields.message,
    type: fields.type,
    source: { component: fields.component, ...(fields.instance ? { host: fields.instance } : {}) },
    firstTimestamp: at,
    lastTimestamp: at,
    count: 1,
    reportingComponent: fields.component,
    reportingInstance: fields.instance ?? '',
    ...(fields.action ? { action: fields.action } : {}),
  };
}

// Kubernetes Events (core/v1, what `kubectl describe` shows), recorded as
// client-go's tools/record EventRecorder and broadcaster do: fire-and-forget
// from the caller's point of view, correlated (event-correlator.ts: similar
// events aggregated, repeats counted on one Event, at most 25 events per
// source and object and then one per 5 minutes), written one at a time in the
// background, a failed write retried (recordToSink: up to 12 tries, 10 s
// apart, the first delay randomised).
//
// Where this differs from client-go:
// - An event is correlated when it is recorded, before it is queued (upstream
//   correlates as its single writer takes the event off the broadcaster's
//   queue). So what the spam filter holds back never takes a place in the
//   queue, and a rollout of a thousand pods queues 25 writes per DaemonSet,
//   not a thousand; the timestamps are the recording's.
// - Nothing is dropped silently: a held-back event, a full queue and a write
//   that failed are each counted in a metric (and logged).
// - Transient errors are retried here: transport errors as upstream, and 429
//   and 5xx answers (client-go's REST client retries those itself before the
//   recorder sees them; ours does not).
// - Give the recorder a KubeClient of its own (main.ts: --event-qps /
//   --event-burst), so Events never take tokens from pod writes.
// The API server keeps one store for both Event APIs: a core/v1 Event is also
// listed through events.k8s.io/v1 (involvedObject → regarding, message → note,
// action as given), so this one writer serves readers of either API.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import {
  EventCorrelator,
  makeEvent,
  type CoreEvent,
  type Correlation,
  type EventCorrelatorOptions,
  type EventPatch,
} from './event-correlator.ts';
import {
  ApiError,
  isAlreadyExists,
  isNamespaceTerminating,
  isNotFound,
  resourcePath,
  resources,
  type KubeClient,
} from './kube.ts';

export interface InvolvedObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export type EventType = 'Normal' | 'Warning';

export interface EventDetails {
  /** What was done or failed (the Event's `action`, events.k8s.io's short verb, e.g. "Renew"). */
  action?: string;
}

/** Where Events are written (upstream's EventSink). */
export interface EventSink {
  create(event: CoreEvent): Promise<CoreEvent>;
  /** Patches the existing Event named `event.metadata.name`. */
  patch(event: CoreEvent, patch: EventPatch): Promise<CoreEvent>;
}

/** Events through a KubeClient: POST, and a merge patch of count, lastTimestamp and message. */
export function kubeEventSink(client: KubeClient): EventSink {
  return {
    create: (event) =>
      client.create<CoreEvent>(
        resourcePath(resources.events, { namespace: event.metadata.namespace }),
        event,
      ),
    patch: (event, patch) =>
      client.patch<CoreEvent>(
        resourcePath(resources.events, { namespace: event.metadata.namespace, name: event.metadata.name }),
        'merge',
        patch,
      ),
  };
}

export interface EventRecorderOptions {
  /** Writes through this client (give it a rate limit of its own), unless `sink` is given. */
  client?: KubeClient;
  sink?: EventSink;
  /** `source.component` / `reportingComponent`, e.g. "everynode-controller". */
  component: string;
  /** `source.host` / `reportingInstance` (the pod name or the process's identity). */
  instance?: string;
  logger: Logger;
  /** Where the everynode_events_* metrics go (none when unset). */
  registry?: Registry;
  /** Writes waiting beyond this are dropped (client-go's broadcaster queue is 1000 long). */
  maxPending?: number;
  /** Tries per write (client-go maxTriesPerEvent: 12). */
  maxTries?: number;
  /** Delay between tries (client-go: 10 s; the first one randomised between 0 and this). */
  retryDelayMs?: number;
  /** Correlation settings (client-go's defaults when unset); `now` is also the clock of Event timestamps. */
  correlator?: EventCorrelatorOptions;
}

interface Write {
  event: CoreEvent;
  patch?: EventPatch | undefined;
}

/** rejected: an API error that will not go away; retries_exhausted: failed on every try; invalid: could not be built. */
type FailureCause = 'rejected' | 'retries_exhausted' | 'invalid';

interface EventMetrics {
  written: Counter<'type' | 'reason' | 'operation'>;
  spamFiltered: Counter<'type' | 'reason'>;
  dropped: Counter<'type' | 'reason'>;
  failed: Counter<'type' | 'reason' | 'cause'>;
  pending: Gauge;
}

// One set per registry: recorders sharing a registry add to the same series.
const metricCache = new WeakMap<Registry, EventMetrics>();
function eventMetrics(registry: Registry): EventMetrics {
  let m = metricCache.get(registry);
  if (!m) {
    const registers = [registry];
    m = {
      written: new Counter({
        name: 'everynode_events_written_total',
        help: 'Event writes by type, reason and operation (create: a new Event object; patch: count+1 on an existing one).',
        labelNames: ['type', 'reason', 'operation'],
        registers,
      }),
      spamFiltered: new Counter({
        name: 'everynode_events_spam_filtered_total',
        help: 'Events held back by the spam filter (25 per source and object, then one per 5 minutes); the next Event written for the same key counts them.',
        labelNames: ['type', 'reason'],
        registers,
      }),
      dropped: new Counter({
        name: 'everynode_events_dropped_total',
        help: 'Events dropped because the write queue was full.',
        labelNames: ['type', 'reason'],
        registers,
      }),
      failed: new Counter({
        name: 'everynode_events_write_failures_total',
        help: 'Events not written (cause: rejected by the API server, retries_exhausted, invalid).',
        labelNames: ['type', 'reason', 'cause'],
        registers,
      }),
      pending: new Gauge({
        name: 'everynode_events_pending',
        help: 'Event writes queued or in flight.',
        registers,
      }),
    };
    metricCache.set(registry, m);
  }
  return m;
}

/** 429 and 5xx answers and transport errors (no answer at all) may go away; other API errors will not. */
const isTransient = (err: unknown): boolean =>
  !(err instanceof ApiError) || err.code === 429 || err.code >= 500;

export class EventRecorder {
  private readonly o: EventRecorderOptions;
  private readonly sink: EventSink;
  private readonly correlator: EventCorrelator;
  private readonly metrics: EventMetrics | undefined;
  private readonly maxPending: number;
  private readonly maxTries: number;
  private readonly retryDelayMs: number;
  private readonly queue: Write[] = [];
  /** Queued plus in flight. */
  private pending = 0;
  private worker: Promise<void> | undefined;
  /** While a flush waits, a failed write is not retried; aborting this cuts a retry delay short. */
  private flushing = 0;
  private wake = new AbortController();

  constructor(options: EventRecorderOptions) {
    this.o = options;
    const sink = options.sink ?? (options.client ? kubeEventSink(options.client) : undefined);
    if (!sink) throw new Error('EventRecorder needs a client or a sink');
    this.sink = sink;
    this.correlator = new EventCorrelator(options.correlator);
    this.metrics = options.registry ? eventMetrics(options.registry) : undefined;
    this.maxPending = options.maxPending ?? 1000;
    this.maxTries = Math.max(1, options.maxTries ?? 12);
    this.retryDelayMs = options.retryDelayMs ?? 10_000;
  }

  /** Records an event on `obj`; never throws, never waits. */
  event(
    obj: InvolvedObject,
    type: EventType,
    reason: string,
    message: string,
    details: EventDetails = {},
  ): void {
    const labels = { type, reason };
    const object = `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
    if (this.pending >= this.maxPending) {
      this.metrics?.dropped.inc(labels);
      this.o.logger.warn({ reason, object, message }, 'event queue full, dropping event');
      return;
    }
    let correlation: Correlation;
    try {
      const now = this.correlator.now();
      const m = obj.metadata;
      const event = makeEvent(
        {
          involvedObject: {
            apiVersion: obj.apiVersion,
            kind: obj.kind,
            name: m?.name,
            namespace: m?.namespace,
            uid: m?.uid,
            resourceVersion: m?.resourceVersion,
          },
          type,
          reason,
          message,
          component: this.o.component,
          instance: this.o.instance,
          action: details.action,
        },
        now,
        this.correlator.names.next(m?.name, now),
      );
      correlation = this.correlator.correlate(event);
    } catch (err) {
      this.metrics?.failed.inc({ ...labels, cause: 'invalid' });
      this.o.logger.warn({ err, reason, object }, 'could not record event');
      return;
    }
    if (correlation.skip) {
      this.metrics?.spamFiltered.inc(labels);
      this.o.logger.debug(
        { reason, object, message, count: correlation.event.count },
        'event held back by the spam filter',
      );
      return;
    }
    this.queue.push({ event: correlation.event, patch: correlation.patch });
    this.pending++;
    this.metrics?.pending.inc();
    this.worker ??= this.drain();
  }

  /**
   * Resolves once every event recorded so far has been written or given up
   * on. While it waits a failed write is not retried (one try each, as
   * client-go after its broadcaster's Shutdown), so shutdown is not held up.
   */
  async flush(): Promise<void> {
    this.flushing++;
    this.wake.abort();
    try {
      while (this.worker) await this.worker;
    } finally {
      if (--this.flushing === 0) this.wake = new AbortController();
    }
  }

  private async drain(): Promise<void> {
    try {
      for (let w = this.queue.shift(); w; w = this.queue.shift()) {
        try {
          await this.writeWithRetries(w);
        } finally {
          this.pending--;
          this.metrics?.pending.dec();
        }
      }
    } finally {
      this.worker = undefined;
    }
  }

  /** upstream recordToSink's loop. */
  private async writeWithRetries(w: Write): Promise<void> {
    const log = this.o.logger.child({
      reason: w.event.reason,
      object: `${w.event.involvedObject.namespace ?? ''}/${w.event.involvedObject.name ?? ''}`,
      event: w.event.metadata.name,
    });
    for (let tries = 1; ; tries++) {
      let err: unknown;
      try {
        await this.writeOnce(w);
        return;
      } catch (e) {
        err = e;
      }
      if (!isTransient(err)) {
        this.fail(w, 'rejected');
        // upstream logs these two at V(5): the Event exists already, or its namespace is going away.
        if (isAlreadyExists(err) || isNamespaceTerminating(err))
          log.debug({ err }, 'server rejected event (not retried)');
        else log.warn({ err }, 'server rejected event (not retried)');
        return;
      }
      if (tries >= this.maxTries || this.flushing > 0) {
        this.fail(w, 'retries_exhausted');
        log.warn({ err, tries }, 'could not write event (giving up)');
        return;
      }
      log.warn({ err, tries }, 'could not write event (will retry)');
      // Randomise the first delay so that clients do not retry in step after an outage.
      const delay = tries === 1 ? this.retryDelayMs * Math.random() : this.retryDelayMs;
      await sleep(delay, undefined, { signal: this.wake.signal }).catch(() => undefined);
    }
  }

  /** upstream recordEvent: patch a repeat (a create if the Event is gone), create anything else. */
  private async writeOnce(w: Write): Promise<void> {
    const { resourceVersion: _rv, ...metadata } = w.event.metadata;
    const create = () => this.sink.create({ ...w.event, metadata });
    let written: CoreEvent;
    let operation: 'create' | 'patch' = 'create';
    if (w.patch && w.event.count > 1) {
      try {
        written = await this.sink.patch(w.event, w.patch);
        operation = 'patch';
      } catch (err) {
        // The Event expired (events have a TTL) or was deleted: write it anew, count and all.
        if (!isNotFound(err)) throw err;
        written = await create();
      }
    } else {
      written = await create();
    }
    this.correlator.updateState(written);
    this.metrics?.written.inc({ type: w.event.type, reason: w.event.reason, operation });
  }

  private fail(w: Write, cause: FailureCause): void {
    this.metrics?.failed.inc({ type: w.event.type, reason: w.event.reason, cause });
  }
}

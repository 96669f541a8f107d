// Kubernetes Events (core/v1, what `kubectl describe` shows), as client-go's
// tools/record EventRecorder writes them: fire-and-forget from the caller's
// point of view, written one at a time in the background, and a repeat of the
// same event on the same object within 10 minutes bumps `count` and
// `lastTimestamp` of the existing Event instead of creating another.
// The API server keeps one store for both Event APIs: a core/v1 Event is also
// listed through events.k8s.io/v1 (involvedObject → regarding, message → note,
// action as given), so this one writer serves readers of either API.
import type { Logger } from 'pino';
import { isNotFound, resourcePath, resources, type KubeClient } from './kube.ts';
import { wireTime } from './time.ts';

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

export interface EventRecorderOptions {
  client: KubeClient;
  /** `source.component` / `reportingComponent`, e.g. "everynode-controller". */
  component: string;
  /** `source.host` / `reportingInstance` (the pod name). */
  instance?: string;
  logger: Logger;
  /** Events waiting to be written beyond this are dropped (client-go's broadcaster queue is 1000 long). */
  maxPending?: number;
}

/** Same event again within this window → count++ on the existing Event (client-go's aggregation window). */
const AGGREGATE_WINDOW_MS = 10 * 60_000;
const MAX_REMEMBERED = 4096;

interface Remembered {
  name: string;
  namespace: string;
  count: number;
  lastMs: number;
}

export class EventRecorder {
  private readonly o: EventRecorderOptions;
  private readonly remembered = new Map<string, Remembered>();
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private sequence = 0n;

  constructor(options: EventRecorderOptions) {
    this.o = options;
  }

  /** Records an event on `obj`; never throws, never waits. */
  event(
    obj: InvolvedObject,
    type: EventType,
    reason: string,
    message: string,
    details: EventDetails = {},
  ): void {
    if (this.pending >= (this.o.maxPending ?? 1000)) {
      this.o.logger.warn({ reason, message }, 'event queue full, dropping event');
      return;
    }
    this.pending++;
    const at = Date.now();
    this.chain = this.chain
      .then(() => this.write(obj, type, reason, message, details, at))
      .catch((err: unknown) => this.o.logger.warn({ err, reason }, 'could not write event'))
      .finally(() => this.pending--);
  }

  /** Resolves once every event recorded so far has been written (or failed). */
  flush(): Promise<void> {
    return this.chain;
  }

  private async write(
    obj: InvolvedObject,
    type: EventType,
    reason: string,
    message: string,
    details: EventDetails,
    at: number,
  ): Promise<void> {
    const namespace = obj.metadata?.namespace || 'default';
    const key = [obj.metadata?.uid, obj.kind, obj.metadata?.name, type, reason, message].join('\u0000');
    const seen = this.remembered.get(key);
    if (seen && at - seen.lastMs < AGGREGATE_WINDOW_MS) {
      try {
        await this.o.client.patch(
          resourcePath(resources.events, { namespace: seen.namespace, name: seen.name }),
          'merge',
          { count: seen.count + 1, lastTimestamp: wireTime(at) },
        );
        seen.count++;
        seen.lastMs = at;
        this.touch(key, seen);
        return;
      } catch (err) {
        // The Event expired (events have a TTL) or was deleted: write a new one.
        if (!isNotFound(err)) throw err;
      }
    }
    const name = `${obj.metadata?.name ?? 'unknown'}.${(BigInt(at) * 1_000_000n + this.sequence++).toString(16)}`;
    await this.o.client.create(resourcePath(resources.events, { namespace }), {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata?.name,
        namespace: obj.metadata?.namespace,
        uid: obj.metadata?.uid,
        resourceVersion: obj.metadata?.resourceVersion,
      },
      reason,
      message,
      type,
      source: { component: this.o.component, ...(this.o.instance ? { host: this.o.instance } : {}) },
      firstTimestamp: wireTime(at),
      lastTimestamp: wireTime(at),
      count: 1,
      reportingComponent: this.o.component,
      reportingInstance: this.o.instance ?? '',
      ...(details.action ? { action: details.action } : {}),
    });
    this.touch(key, { name, namespace, count: 1, lastMs: at });
  }

  /** Keeps the most recently used entries (Map iteration order = insertion order). */
  private touch(key: string, entry: Remembered): void {
    this.remembered.delete(key);
    this.remembered.set(key, entry);
    if (this.remembered.size > MAX_REMEMBERED) {
      const oldest = this.remembered.keys().next().value;
      if (oldest !== undefined) this.remembered.delete(oldest);
    }
  }
}

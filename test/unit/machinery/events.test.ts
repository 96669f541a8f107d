// The Event writer's own logic, through a sink of plain objects (an in-memory
// store of Events, no Kubernetes client): what reaches the sink for a rollout's
// worth of events, the metrics, a patch of a vanished Event, the retries and
// what is not retried, the bounded queue, and flush. Against the real API
// server it is tested in test/e2e/controller-events.test.ts.
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import type { CoreEvent, EventPatch } from '../../../src/machinery/event-correlator.ts';
import { EventRecorder, type EventSink } from '../../../src/machinery/events.ts';
import { ApiError } from '../../../src/machinery/kube.ts';

const ds = {
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  metadata: { name: 'web', namespace: 'ns', uid: 'uid-1' },
};

/** Events by name, as an API server keeps them; `fail` decides an error for a call before it is applied. */
class Store implements EventSink {
  readonly events = new Map<string, CoreEvent>();
  readonly calls: string[] = [];
  fail: (op: 'create' | 'patch', event: CoreEvent) => Error | undefined = () => undefined;
  gate: Promise<void> | undefined;

  async create(event: CoreEvent): Promise<CoreEvent> {
    await this.gate;
    this.calls.push(`create ${event.metadata.name}`);
    const err = this.fail('create', event);
    if (err) throw err;
    if (this.events.has(event.metadata.name))
      throw new ApiError(409, 'AlreadyExists', 'already exists', undefined);
    const stored = { ...event, metadata: { ...event.metadata, resourceVersion: '1' } };
    this.events.set(event.metadata.name, stored);
    return stored;
  }

  async patch(event: CoreEvent, patch: EventPatch): Promise<CoreEvent> {
    await this.gate;
    this.calls.push(`patch ${event.metadata.name}`);
    const err = this.fail('patch', event);
    if (err) throw err;
    const existing = this.events.get(event.metadata.name);
    if (!existing) throw new ApiError(404, 'NotFound', 'not found', undefined);
    const patched = { ...existing, ...patch };
    this.events.set(event.metadata.name, patched);
    return patched;
  }
}

function recorder(store: Store, options: Partial<ConstructorParameters<typeof EventRecorder>[0]> = {}) {
  const registry = new Registry();
  const events = new EventRecorder({
    sink: store,
    component: 'everynode-controller',
    instance: 'test',
    logger: pino({ level: 'silent' }),
    registry,
    retryDelayMs: 0,
    ...options,
  });
  /** Sum of a metric's samples whose labels include `labels`. */
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const m = registry.getSingleMetric(name);
    if (!m) return 0;
    const { values } = await m.get();
    return values
      .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
      .reduce((sum, v) => sum + v.value, 0);
  };
  return { events, metric };
}

describe('EventRecorder', () => {
  it('turns 40 SuccessfulCreate events on one DaemonSet into 10 Events: 9 on their own and one combined', async () => {
    const store = new Store();
    const { events, metric } = recorder(store);
    for (let i = 0; i < 40; i++) events.event(ds, 'Normal', 'SuccessfulCreate', `Created pod: web-${i}`);
    await events.flush();

    const written = [...store.events.values()];
    expect(written).toHaveLength(10);
    const combined = written.filter((e) => e.message.startsWith('(combined from similar events): '));
    expect(combined).toHaveLength(1);
    // The 10th to the 25th event: the 25 tokens of the spam filter are spent, the other 15 are held back.
    expect(combined[0]).toMatchObject({
      count: 16,
      message: '(combined from similar events): Created pod: web-24',
    });
    expect(written.filter((e) => e.count === 1).map((e) => e.message)).toEqual(
      Array.from({ length: 9 }, (_, i) => `Created pod: web-${i}`),
    );
    expect(written.every((e) => e.involvedObject.uid === 'uid-1' && e.metadata.namespace === 'ns')).toBe(
      true,
    );
    expect(await metric('everynode_events_written_total', { operation: 'create' })).toBe(10);
    expect(await metric('everynode_events_written_total', { operation: 'patch' })).toBe(15);
    expect(await metric('everynode_events_spam_filtered_total', { reason: 'SuccessfulCreate' })).toBe(15);
    expect(await metric('everynode_events_pending')).toBe(0);
  });

  it('never waits: event() returns before anything is written', async () => {
    const store = new Store();
    let release = () => {};
    store.gate = new Promise((resolve) => (release = resolve));
    const { events } = recorder(store);
    events.event(ds, 'Normal', 'Hello', 'hi');
    expect(store.events.size).toBe(0);
    release();
    await events.flush();
    expect(store.events.size).toBe(1);
  });

  it('a repeat whose Event is gone (TTL, deleted) is created anew with its count', async () => {
    const store = new Store();
    const { events } = recorder(store);
    events.event(ds, 'Warning', 'FailedCreate', 'Error creating: quota');
    await events.flush();
    store.events.clear();
    events.event(ds, 'Warning', 'FailedCreate', 'Error creating: quota');
    await events.flush();
    expect(store.calls.map((c) => c.split(' ')[0])).toEqual(['create', 'patch', 'create']);
    expect([...store.events.values()].map((e) => e.count)).toEqual([2]);
  });

  it('retries a transient failure (no answer, 429, 5xx) and writes the event', async () => {
    const store = new Store();
    const failures = [
      new TypeError('fetch failed'),
      new ApiError(429, 'TooManyRequests', 'slow down', undefined),
      new ApiError(503, 'ServiceUnavailable', 'down', undefined),
    ];
    store.fail = () => failures.shift();
    const { events, metric } = recorder(store);
    events.event(ds, 'Normal', 'Hello', 'hi');
    // Not flush(): a flush cuts retries short.
    await vi.waitFor(() => expect(store.events.size).toBe(1));
    expect(store.calls).toHaveLength(4);
    expect(store.events.size).toBe(1);
    expect(await metric('everynode_events_write_failures_total')).toBe(0);
  });

  it('gives up after maxTries and counts the failure', async () => {
    const store = new Store();
    store.fail = () => new TypeError('fetch failed');
    const { events, metric } = recorder(store, { maxTries: 3 });
    events.event(ds, 'Normal', 'Hello', 'hi');
    await vi.waitFor(async () =>
      expect(await metric('everynode_events_write_failures_total', { cause: 'retries_exhausted' })).toBe(1),
    );
    expect(store.calls).toHaveLength(3);
    expect(
      await metric('everynode_events_write_failures_total', { cause: 'retries_exhausted', reason: 'Hello' }),
    ).toBe(1);
  });

  it('does not retry what the API server rejected, and counts it', async () => {
    const store = new Store();
    store.fail = () => new ApiError(422, 'Invalid', 'invalid', undefined);
    const { events, metric } = recorder(store);
    events.event(ds, 'Normal', 'Hello', 'hi');
    await events.flush();
    expect(store.calls).toHaveLength(1);
    expect(await metric('everynode_events_write_failures_total', { cause: 'rejected' })).toBe(1);
  });

  it('drops beyond maxPending queued writes and counts what it dropped', async () => {
    const store = new Store();
    let release = () => {};
    store.gate = new Promise((resolve) => (release = resolve));
    const { events, metric } = recorder(store, { maxPending: 2 });
    for (const reason of ['A', 'B', 'C', 'D']) events.event(ds, 'Normal', reason, reason);
    expect(await metric('everynode_events_pending')).toBe(2);
    release();
    await events.flush();
    expect([...store.events.values()].map((e) => e.reason)).toEqual(['A', 'B']);
    expect(await metric('everynode_events_dropped_total')).toBe(2);
    expect(await metric('everynode_events_dropped_total', { reason: 'C' })).toBe(1);
  });

  it('flush does not wait out retry delays: each queued write gets one more try', async () => {
    const store = new Store();
    store.fail = () => new TypeError('fetch failed');
    const { events, metric } = recorder(store, { retryDelayMs: 3_600_000 });
    events.event(ds, 'Normal', 'A', 'a');
    events.event(ds, 'Normal', 'B', 'b');
    await events.flush();
    expect(await metric('everynode_events_write_failures_total', { cause: 'retries_exhausted' })).toBe(2);
    expect(store.calls.length).toBeLessThanOrEqual(3);
  });

  it('recorders sharing a registry add to the same series', async () => {
    const registry = new Registry();
    const options = { component: 'c', logger: pino({ level: 'silent' }), registry };
    const a = new EventRecorder({ ...options, sink: new Store() });
    const b = new EventRecorder({ ...options, sink: new Store() });
    a.event(ds, 'Normal', 'Hello', 'hi');
    b.event(ds, 'Normal', 'Hello', 'hi');
    await Promise.all([a.flush(), b.flush()]);
    const { values } = await registry.getSingleMetric('everynode_events_written_total')!.get();
    expect(values.reduce((n, v) => n + v.value, 0)).toBe(2);
  });
});

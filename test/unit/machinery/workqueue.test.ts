import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  BucketRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  WorkQueue,
  defaultControllerRateLimiter,
} from '../../../src/machinery/workqueue.ts';
import { TokenBucket } from '../../../src/machinery/token-bucket.ts';

describe('WorkQueue', () => {
  it('with minIntervalMs, a key re-added after its pass waits out the interval, and adds in between coalesce', async () => {
    const q = new WorkQueue<string>({ name: 'test', minIntervalMs: 80 });
    q.add('a');
    expect(await q.get()).toBe('a');
    q.done('a');
    q.add('a');
    q.add('a');
    q.add('b'); // another key is not held back
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('b');
    q.done('b');
    expect(q.len()).toBe(0); // 'a' is held back, not queued
    expect(await q.get()).toBe('a'); // …and handed out once the interval has passed
    q.done('a');
    expect(q.len()).toBe(0);
  });

  it('with minIntervalMs, a key first added long after its last pass goes at once', async () => {
    const q = new WorkQueue<string>({ name: 'test', minIntervalMs: 20 });
    q.add('a');
    q.done((await q.get())!);
    await sleep(30);
    q.add('a');
    expect(q.len()).toBe(1);
  });

  it('shutting down drops keys waiting out the interval', async () => {
    const q = new WorkQueue<string>({ name: 'test', minIntervalMs: 50 });
    q.add('a');
    q.done((await q.get())!);
    q.add('a');
    q.shutDown();
    await sleep(70);
    expect(q.len()).toBe(0);
    expect(await q.get()).toBeUndefined();
  });

  it('hands out a key added several times only once', async () => {
    const q = new WorkQueue<string>({ name: 'test' });
    q.add('a');
    q.add('b');
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  it('never gives a key to a second worker while the first holds it', async () => {
    const q = new WorkQueue<string>({ name: 'test' });
    q.add('a');
    const first = await q.get();
    q.add('a'); // re-added while processing: parked
    expect(q.len()).toBe(0);
    let second: string | undefined;
    const waiting = q.get().then((k) => (second = k));
    await sleep(5);
    expect(second).toBeUndefined();
    q.done(first!);
    await waiting;
    expect(second).toBe('a');
  });

  it('processes every added key, one worker per key at a time, under concurrent workers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1, maxLength: 60 }),
        async (adds) => {
          const q = new WorkQueue<string>({ name: 'prop' });
          const inFlight = new Set<string>();
          const processed: string[] = [];
          let overlap = false;
          const workers = Array.from({ length: 3 }, async () => {
            for (;;) {
              const key = await q.get();
              if (key === undefined) return;
              if (inFlight.has(key)) overlap = true;
              inFlight.add(key);
              await sleep(0);
              processed.push(key);
              inFlight.delete(key);
              q.done(key);
            }
          });
          for (const key of adds) {
            q.add(key);
            if (Math.random() < 0.5) await sleep(0);
          }
          // Let the workers finish everything, then stop them.
          while (q.len() > 0 || ['a', 'b', 'c', 'd'].some((k) => q.isProcessing(k))) await sleep(1);
          await q.shutDownWithDrain();
          await Promise.all(workers);
          expect(overlap).toBe(false);
          // Every distinct key added was processed at least once after its last add.
          expect(new Set(processed)).toEqual(new Set(adds));
        },
      ),
      { numRuns: 30 },
    );
  });

  it('addAfter delivers the key later, and a nearer delay replaces a farther one', async () => {
    const q = new WorkQueue<string>({ name: 'test' });
    q.addAfter('x', 60_000);
    q.addAfter('x', 10);
    q.addAfter('x', 30_000); // farther than the pending one: ignored
    expect(q.len()).toBe(0);
    expect(await q.get()).toBe('x');
    q.done('x');
    await sleep(20);
    expect(q.len()).toBe(0);
    q.shutDown();
  });

  it('addRateLimited counts requeues and forget resets them', async () => {
    const q = new WorkQueue<string>({ name: 'test' });
    q.addRateLimited('k');
    q.addRateLimited('k');
    expect(q.numRequeues('k')).toBe(2);
    expect(await q.get()).toBe('k');
    q.forget('k');
    expect(q.numRequeues('k')).toBe(0);
    q.shutDown();
  });

  it('shutDown wakes idle workers with undefined and ignores later adds', async () => {
    const q = new WorkQueue<string>({ name: 'test' });
    const idle = q.get();
    q.shutDown();
    expect(await idle).toBeUndefined();
    q.add('late');
    q.addAfter('late', 1);
    q.addRateLimited('late');
    expect(q.len()).toBe(0);
    expect(await q.get()).toBeUndefined();
  });

  it('shutDownWithDrain waits for in-flight keys to be done', async () => {
    const q = new WorkQueue<string>({ name: 'test' });
    q.add('a');
    q.add('b');
    const key = await q.get();
    let drained = false;
    const drain = q.shutDownWithDrain().then(() => (drained = true));
    await sleep(5);
    expect(drained).toBe(false);
    // The queued key is dropped: no worker starts new work after shutdown.
    expect(await q.get()).toBeUndefined();
    q.done(key!);
    await drain;
    expect(drained).toBe(true);
  });

  it('exports the workqueue metrics with name and controller labels', async () => {
    const registry = new Registry();
    const q = new WorkQueue<string>({ name: 'daemonset', controller: 'daemonset', registry });
    q.add('a');
    q.add('b');
    q.add('a');
    const a = await q.get();
    q.addRateLimited('c');
    const text = await registry.metrics();
    expect(text).toContain('workqueue_adds_total{name="daemonset",controller="daemonset"} 2');
    expect(text).toContain('workqueue_depth{name="daemonset",controller="daemonset"} 1');
    expect(text).toContain('workqueue_retries_total{name="daemonset",controller="daemonset"} 1');
    expect(text).toMatch(
      /workqueue_queue_duration_seconds_count\{name="daemonset",controller="daemonset"\} 1/,
    );
    expect(text).toMatch(/workqueue_unfinished_work_seconds\{name="daemonset",controller="daemonset"\} \d/);
    expect(text).toMatch(
      /workqueue_longest_running_processor_seconds\{name="daemonset",controller="daemonset"\} \d/,
    );
    q.done(a!);
    expect(await registry.metrics()).toMatch(
      /workqueue_work_duration_seconds_count\{name="daemonset",controller="daemonset"\} 1/,
    );
    q.shutDown();
  });
});

describe('rate limiters', () => {
  it('per-item backoff doubles from 5 ms up to 1000 s, per key', () => {
    const l = new ItemExponentialFailureRateLimiter<string>(5, 1_000_000);
    const delays = Array.from({ length: 6 }, () => l.when('a'));
    expect(delays).toEqual([5, 10, 20, 40, 80, 160]);
    expect(l.when('b')).toBe(5);
    for (let i = 0; i < 100; i++) l.when('a');
    expect(l.when('a')).toBe(1_000_000);
    l.forget('a');
    expect(l.when('a')).toBe(5);
  });

  it('the overall bucket delays once its burst is spent', () => {
    let t = 0;
    const l = new BucketRateLimiter<string>(new TokenBucket({ qps: 10, burst: 100, now: () => t }));
    for (let i = 0; i < 100; i++) expect(l.when(`k${i}`)).toBe(0);
    expect(l.when('k100')).toBeCloseTo(100);
    t += 10_000;
    expect(l.when('k101')).toBe(0);
  });

  it('the default controller limiter takes the larger of both', () => {
    const l = defaultControllerRateLimiter<string>();
    expect(l.when('a')).toBe(5);
    expect(l.when('a')).toBe(10);
    expect(l.numRequeues('a')).toBe(2);
    const max = new MaxOfRateLimiter<string>(
      new ItemExponentialFailureRateLimiter<string>(5, 1000),
      new ItemExponentialFailureRateLimiter<string>(50, 1000),
    );
    expect(max.when('x')).toBe(50);
    max.forget('x');
    expect(max.numRequeues('x')).toBe(0);
  });
});

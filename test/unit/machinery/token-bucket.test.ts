import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../src/machinery/token-bucket.ts';

/** A clock the test moves by hand. */
function manualClock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('TokenBucket', () => {
  it('lets a burst through, then spaces reservations at 1/qps', () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ qps: 10, burst: 3, now: clock.now });
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0]);
    // Each further reservation queues 100 ms behind the previous one.
    expect(bucket.reserve()).toBeCloseTo(100);
    expect(bucket.reserve()).toBeCloseTo(200);
  });

  it('tells whether a reservation had to wait recently', () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ qps: 10, burst: 2, now: clock.now });
    bucket.reserve();
    bucket.reserve();
    expect(bucket.waitedWithin(2000)).toBe(false); // the burst went through without waiting
    clock.advance(50);
    expect(bucket.reserve()).toBeCloseTo(50); // the third waits
    clock.advance(2000);
    expect(bucket.waitedWithin(2000)).toBe(true);
    clock.advance(1);
    expect(bucket.waitedWithin(2000)).toBe(false);
    expect(bucket.tryTake()).toBe(true); // a take that gets a token is not a wait
    expect(bucket.waitedWithin(2000)).toBe(false);
  });

  it('refills with time but never above the burst', () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ qps: 2, burst: 2, now: clock.now });
    bucket.reserve();
    bucket.reserve();
    expect(bucket.tryTake()).toBe(false);
    clock.advance(500);
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
    clock.advance(60_000);
    expect(bucket.available()).toBe(2);
  });

  it('pays back debt before new tokens are free', () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ qps: 1, burst: 1, now: clock.now });
    bucket.reserve(); // 0 tokens
    expect(bucket.reserve()).toBeCloseTo(1000); // -1
    clock.advance(1000); // back to 0
    expect(bucket.tryTake()).toBe(false);
    clock.advance(1000);
    expect(bucket.tryTake()).toBe(true);
  });

  it('does not limit when qps is not positive', () => {
    const bucket = new TokenBucket({ qps: 0, burst: 1 });
    for (let i = 0; i < 1000; i++) expect(bucket.reserve()).toBe(0);
  });

  it('take() waits for its turn', async () => {
    const bucket = new TokenBucket({ qps: 50, burst: 1 });
    await bucket.take();
    await bucket.take(); // waits ~20 ms of real time
    expect(bucket.available()).toBeLessThan(1);
  });

  it('take() rejects when aborted', async () => {
    const bucket = new TokenBucket({ qps: 0.001, burst: 1 });
    bucket.reserve();
    const controller = new AbortController();
    const waiting = bucket.take(controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow();
  });
});

// slowStart: the window of calls in flight (1, then as many as have succeeded plus one), the stop
// after a failure, and that a slow call does not hold back the ones after it.
import { describe, expect, it } from 'vitest';
import { slowStart } from '../../../src/machinery/slow-start.ts';

/** Calls that wait until the test settles them. */
function controlledCalls() {
  const pending = new Map<number, (ok: boolean) => void>();
  const startedOrder: number[] = [];
  const call = (item: number) =>
    new Promise<boolean>((resolve) => {
      startedOrder.push(item);
      pending.set(item, resolve);
    });
  const settle = async (item: number, ok = true) => {
    const resolve = pending.get(item);
    if (!resolve) throw new Error(`call ${item} is not in flight`);
    pending.delete(item);
    resolve(ok);
    await new Promise((r) => setImmediate(r));
  };
  return { call, settle, startedOrder, inFlight: () => [...pending.keys()].sort((a, b) => a - b) };
}

const items = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('slowStart', () => {
  it('starts one call, then doubles the calls in flight with every round of successes', async () => {
    const c = controlledCalls();
    const result = slowStart(items(10), c.call);
    expect(c.inFlight()).toEqual([0]);
    await c.settle(0);
    expect(c.inFlight()).toEqual([1, 2]);
    await c.settle(1);
    await c.settle(2);
    expect(c.inFlight()).toEqual([3, 4, 5, 6]);
    for (const i of [3, 4, 5, 6]) await c.settle(i);
    expect(c.inFlight()).toEqual([7, 8, 9]);
    for (const i of [7, 8, 9]) await c.settle(i);
    await expect(result).resolves.toEqual({ started: 10, failed: 0 });
    expect(c.startedOrder).toEqual(items(10));
  });

  it('starts the next call as soon as one returns, not when the slowest of a round does', async () => {
    const c = controlledCalls();
    void slowStart(items(10), c.call);
    await c.settle(0);
    expect(c.inFlight()).toEqual([1, 2]);
    await c.settle(2); // 1 is slow
    // Two have succeeded: three may be in flight, so 3 and 4 start beside the slow 1.
    expect(c.inFlight()).toEqual([1, 3, 4]);
    await c.settle(3);
    expect(c.inFlight()).toEqual([1, 4, 5, 6]);
  });

  it('after a failure starts nothing more, lets the calls in flight finish and reports what started', async () => {
    const c = controlledCalls();
    let resolved = false;
    const result = slowStart(items(20), c.call).then((r) => {
      resolved = true;
      return r;
    });
    await c.settle(0);
    await c.settle(1);
    await c.settle(2);
    expect(c.inFlight()).toEqual([3, 4, 5, 6]);
    await c.settle(4, false);
    expect(c.inFlight()).toEqual([3, 5, 6]);
    await c.settle(3);
    await c.settle(5);
    expect(c.inFlight()).toEqual([6]);
    expect(resolved).toBe(false);
    await c.settle(6);
    await expect(result).resolves.toEqual({ started: 7, failed: 1 });
    expect(c.startedOrder).toEqual(items(7));
  });

  it('counts a rejected or throwing call as a failure', async () => {
    await expect(slowStart(items(5), () => Promise.reject(new Error('boom')))).resolves.toEqual({
      started: 1,
      failed: 1,
    });
    await expect(
      slowStart(items(5), () => {
        throw new Error('sync boom');
      }),
    ).resolves.toEqual({ started: 1, failed: 1 });
  });

  it('resolves at once for no items, and runs every item when all succeed at once', async () => {
    await expect(slowStart([], () => Promise.resolve(true))).resolves.toEqual({ started: 0, failed: 0 });
    const seen: number[] = [];
    const result = await slowStart(items(100), (i) => {
      seen.push(i);
      return Promise.resolve(true);
    });
    expect(result).toEqual({ started: 100, failed: 0 });
    expect(seen).toEqual(items(100));
  });
});

// Slow start for a list of API calls (the role of upstream's slowStartBatch in
// pkg/controller/controller_utils.go, as a window rather than batches): the
// first call alone, then no more calls in flight than have succeeded, plus one,
// so the number in flight doubles with every round trip while calls succeed;
// after the first failure no call starts and those in flight finish.
//
// Upstream runs batches of 1, 2, 4, … and waits for a whole batch before the
// next. Under load a call can take a second or two, and a batch waits for its
// slowest member; the window starts the next call as soon as one returns, with
// the same bound on how many calls a failure can cost. Hand-written: the
// concurrency libraries (p-limit and the like) have a fixed limit, not one that
// grows with successes and stops on a failure.

export interface SlowStartResult {
  /** Calls started (the rest were skipped after a failure). */
  started: number;
  /** Calls that failed. */
  failed: number;
}

/**
 * Runs `call` for the items in order under the slow-start window. `call` resolves true for a
 * success and false for a failure that stops the rest; a rejection counts as a failure.
 */
export function slowStart<T>(
  items: readonly T[],
  call: (item: T) => Promise<boolean>,
): Promise<SlowStartResult> {
  let started = 0;
  let succeeded = 0;
  let failed = 0;
  let inFlight = 0;
  return new Promise((resolve) => {
    const done = () => resolve({ started, failed });
    const settle = (ok: boolean) => {
      inFlight--;
      if (ok) succeeded++;
      else failed++;
      startMore();
      if (inFlight === 0) done();
    };
    const startMore = () => {
      while (failed === 0 && started < items.length && inFlight < succeeded + 1) {
        const item = items[started++] as T;
        inFlight++;
        let promise: Promise<boolean>;
        try {
          promise = call(item);
        } catch {
          promise = Promise.resolve(false);
        }
        promise.then(settle, () => settle(false));
      }
    };
    startMore();
    if (inFlight === 0) done();
  });
}

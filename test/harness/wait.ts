// Polling for eventual cluster state. Controllers converge asynchronously, so
// tests wait for an outcome; a timeout fails with what was awaited and what was
// last seen, which is what you need to read a failure from CI logs.
import { inspect } from 'node:util';

export interface WaitOptions {
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
  /** Pause between attempts (default 250 ms). */
  intervalMs?: number;
  /** Checked before every attempt: an error returned here ends the wait at once (e.g. the process we wait on died). */
  abortIf?: () => Error | undefined;
}

/**
 * What one attempt saw: `done` ends the wait with `value`; otherwise `seen`
 * describes the state for the timeout message.
 */
export type Attempt<T> = { done: true; value: T } | { done: false; seen: unknown };

export const done = <T>(value: T): Attempt<T> => ({ done: true, value });
export const notYet = (seen: unknown): Attempt<never> => ({ done: false, seen });

export class WaitTimeoutError extends Error {
  readonly lastSeen: unknown;
  constructor(description: string, timeoutMs: number, lastSeen: unknown) {
    super(
      `timed out after ${timeoutMs} ms waiting for ${description}; last seen: ${
        typeof lastSeen === 'string' ? lastSeen : inspect(lastSeen, { depth: 6, breakLength: 120 })
      }`,
    );
    this.name = 'WaitTimeoutError';
    this.lastSeen = lastSeen;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Calls `check` until it reports done, and returns its value. A check that
 * throws counts as "not yet" with the error as what was seen (the object may
 * not exist yet), so only the timeout fails the wait.
 */
export async function waitFor<T>(
  description: string,
  check: () => Promise<Attempt<T>> | Attempt<T>,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const intervalMs = options.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let lastSeen: unknown; // every pass through the loop sets it before the deadline check
  for (;;) {
    const abort = options.abortIf?.();
    if (abort) throw abort;
    try {
      const attempt = await check();
      if (attempt.done) return attempt.value;
      lastSeen = attempt.seen;
    } catch (err) {
      lastSeen = err instanceof Error ? `${err.name}: ${err.message}` : err;
    }
    if (Date.now() >= deadline) throw new WaitTimeoutError(description, timeoutMs, lastSeen);
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

// A token bucket with reservations, as golang.org/x/time/rate's Limiter is
// used by client-go (client-side QPS/burst) and by the workqueue's
// BucketRateLimiter. Hand-written because the npm limiters either drop requests
// instead of delaying them or do not expose "how long until my turn", which
// the work queue needs as a delay.
import { setTimeout as sleep } from 'node:timers/promises';

export interface TokenBucketOptions {
  /** Tokens added per second. `Infinity` (or ≤ 0 treated as unlimited) disables limiting. */
  qps: number;
  /** Bucket size: how many calls may go at once after a quiet period. */
  burst: number;
  /** Monotonic clock in milliseconds; injectable for tests. */
  now?: () => number;
}

export class TokenBucket {
  readonly qps: number;
  readonly burst: number;
  private readonly now: () => number;
  /** May go negative: each reservation beyond the bucket is a debt paid back by waiting. */
  private tokens: number;
  private last: number;
  /** When a reservation last had to wait (the bucket was the bound), on the bucket's clock. */
  private lastWaitAt = -Infinity;

  constructor(options: TokenBucketOptions) {
    this.qps = options.qps > 0 ? options.qps : Infinity;
    this.burst = Math.max(1, options.burst);
    this.now = options.now ?? (() => performance.now());
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** Takes one token now and returns how many ms the caller must wait before acting (0 = go). */
  reserve(): number {
    if (this.qps === Infinity) return 0;
    this.refill();
    this.tokens -= 1;
    if (this.tokens >= 0) return 0;
    this.lastWaitAt = this.last;
    return (-this.tokens / this.qps) * 1000;
  }

  /** Whether some reservation had to wait in the last `ms` milliseconds: callers are queueing for tokens. */
  waitedWithin(ms: number): boolean {
    return this.now() - this.lastWaitAt <= ms;
  }

  /** Takes one token only if one is available right now. */
  tryTake(): boolean {
    if (this.qps === Infinity) return true;
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Waits for a token. Rejects with the signal's reason when aborted (the token stays spent). */
  async take(signal?: AbortSignal): Promise<void> {
    const delay = this.reserve();
    if (delay > 0) await sleep(delay, undefined, { signal });
  }

  /** Tokens available now (negative while callers are waiting). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  private refill(): void {
    const now = this.now();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed / 1000) * this.qps);
  }
}

// client-go's rate-limiting work queue (k8s.io/client-go/util/workqueue):
// - a key added many times before a worker takes it is processed once (dirty set);
// - a key being processed is never handed to a second worker: re-adds while it
//   is processing are parked and queued again when the worker calls done();
// - addRateLimited delays by max(per-item exponential backoff, overall token
//   bucket), forget() resets the per-item count;
// - addAfter for requeue-after; shutdown (optionally draining in-flight work).
// Metrics use client-go's workqueue_* names with controller-runtime's labels.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { TokenBucket } from './token-bucket.ts';

/** How long to wait before retrying an item. */
export interface RateLimiter<K> {
  when(item: K): number;
  forget(item: K): void;
  numRequeues(item: K): number;
}

/** Per-item exponential backoff: base·2^failures, capped (client-go ItemExponentialFailureRateLimiter). */
export class ItemExponentialFailureRateLimiter<K> implements RateLimiter<K> {
  private readonly failures = new Map<K, number>();
  private readonly baseMs: number;
  private readonly maxMs: number;
  constructor(baseMs: number, maxMs: number) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }
  when(item: K): number {
    const n = this.failures.get(item) ?? 0;
    this.failures.set(item, n + 1);
    // 2^n overflows to Infinity for large n; the cap handles that.
    return Math.min(this.maxMs, this.baseMs * 2 ** n);
  }
  forget(item: K): void {
    this.failures.delete(item);
  }
  numRequeues(item: K): number {
    return this.failures.get(item) ?? 0;
  }
}

/** An overall rate over all items (client-go BucketRateLimiter). */
export class BucketRateLimiter<K> implements RateLimiter<K> {
  private readonly bucket: TokenBucket;
  constructor(bucket: TokenBucket) {
    this.bucket = bucket;
  }
  when(_item: K): number {
    return this.bucket.reserve();
  }
  forget(_item: K): void {}
  numRequeues(_item: K): number {
    return 0;
  }
}

/** The longest delay of its limiters (client-go MaxOfRateLimiter). */
export class MaxOfRateLimiter<K> implements RateLimiter<K> {
  private readonly limiters: RateLimiter<K>[];
  constructor(...limiters: RateLimiter<K>[]) {
    this.limiters = limiters;
  }
  when(item: K): number {
    // Every limiter must see the item (each keeps its own state), so no short-circuit.
    return Math.max(...this.limiters.map((l) => l.when(item)));
  }
  forget(item: K): void {
    for (const l of this.limiters) l.forget(item);
  }
  numRequeues(item: K): number {
    return Math.max(...this.limiters.map((l) => l.numRequeues(item)));
  }
}

/** client-go DefaultControllerRateLimiter: exponential 5 ms → 1000 s per item, and 10 qps / 100 burst overall. */
export function defaultControllerRateLimiter<K>(): RateLimiter<K> {
  return new MaxOfRateLimiter<K>(
    new ItemExponentialFailureRateLimiter<K>(5, 1000 * 1000),
    new BucketRateLimiter<K>(new TokenBucket({ qps: 10, burst: 100 })),
  );
}

export interface WorkQueueOptions<K> {
  /** Queue name (metrics label `name`). */
  name: string;
  /** Controller name (metrics label `controller`); defaults to the queue name. */
  controller?: string;
  rateLimiter?: RateLimiter<K>;
  registry?: Registry;
  /**
   * A key is handed to a worker at most once per this interval (default 0: at once, as client-go).
   * Adds in between coalesce into one later pass: a controller whose syncs are cheap otherwise
   * re-syncs on every single event of a burst (thousands during a rollout), each pass reading the
   * whole object set. Error backoff and addAfter delays are not shortened by it.
   */
  minIntervalMs?: number;
}

interface QueueMetrics {
  depth: Gauge<'name' | 'controller'>;
  adds: Counter<'name' | 'controller'>;
  queueDuration: Histogram<'name' | 'controller'>;
  workDuration: Histogram<'name' | 'controller'>;
  retries: Counter<'name' | 'controller'>;
  unfinished: Gauge<'name' | 'controller'>;
  longest: Gauge<'name' | 'controller'>;
}

// client-go's buckets: 10 ns · 10^i, i = 0..9 (1e-8 s … 10 s).
const DURATION_BUCKETS = Array.from({ length: 10 }, (_, i) => 1e-8 * 10 ** i);

/** Queues registered per registry, so the collect-time gauges can cover several queues. */
const registered = new WeakMap<Registry, { metrics: QueueMetrics; queues: Set<WorkQueue<unknown>> }>();

function metricsFor(registry: Registry): { metrics: QueueMetrics; queues: Set<WorkQueue<unknown>> } {
  let entry = registered.get(registry);
  if (entry) return entry;
  const queues = new Set<WorkQueue<unknown>>();
  const labelNames = ['name', 'controller'] as const;
  const registers = [registry];
  const metrics: QueueMetrics = {
    depth: new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames, registers }),
    adds: new Counter({
      name: 'workqueue_adds_total',
      help: 'Total number of adds handled by workqueue',
      labelNames,
      registers,
    }),
    queueDuration: new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames,
      registers,
      buckets: DURATION_BUCKETS,
    }),
    workDuration: new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes.',
      labelNames,
      registers,
      buckets: DURATION_BUCKETS,
    }),
    retries: new Counter({
      name: 'workqueue_retries_total',
      help: 'Total number of retries handled by workqueue',
      labelNames,
      registers,
    }),
    unfinished: new Gauge({
      name: 'workqueue_unfinished_work_seconds',
      help: "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
      labelNames,
      registers,
      collect() {
        for (const q of queues) this.set(q.labels, q.unfinishedWorkSeconds());
      },
    }),
    longest: new Gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: 'How many seconds has the longest running processor for workqueue been running.',
      labelNames,
      registers,
      collect() {
        for (const q of queues) this.set(q.labels, q.longestRunningProcessorSeconds());
      },
    }),
  };
  entry = { metrics, queues };
  registered.set(registry, entry);
  return entry;
}

export class WorkQueue<K> {
  readonly labels: { name: string; controller: string };
  private readonly rateLimiter: RateLimiter<K>;
  private readonly metrics: QueueMetrics | undefined;
  /** FIFO of keys ready for a worker. Each key appears at most once. */
  private queue: K[] = [];
  private head = 0;
  /** Keys that need processing (queued, or re-added while processing). */
  private readonly dirty = new Set<K>();
  /** Keys a worker holds, with the time it took them. */
  private readonly processing = new Map<K, number>();
  /** When each queued key was first added (for queue_duration). */
  private readonly addedAt = new Map<K, number>();
  /** Delayed adds: key → timer; a nearer addAfter for the same key wins. */
  private readonly waiting = new Map<K, { at: number; timer: NodeJS.Timeout }>();
  private readonly getters: Array<(item: K | undefined) => void> = [];
  private shuttingDownFlag = false;
  private drainWaiters: Array<() => void> = [];
  private readonly minIntervalMs: number;
  /** When a worker last took each key, while it matters for minIntervalMs. */
  private readonly lastTaken = new Map<K, number>();
  /** Keys dirty and due later because of minIntervalMs. */
  private readonly spaced = new Map<K, NodeJS.Timeout>();

  constructor(options: WorkQueueOptions<K>) {
    this.labels = { name: options.name, controller: options.controller ?? options.name };
    this.rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter<K>();
    this.minIntervalMs = options.minIntervalMs ?? 0;
    if (options.registry) {
      const entry = metricsFor(options.registry);
      this.metrics = entry.metrics;
      entry.queues.add(this as WorkQueue<unknown>);
      this.metrics.depth.set(this.labels, 0);
      this.metrics.adds.inc(this.labels, 0);
      this.metrics.retries.inc(this.labels, 0);
    }
  }

  /** Marks the key as needing processing. No-op if it is already queued or after shutdown. */
  add(item: K): void {
    if (this.shuttingDownFlag) return;
    if (this.dirty.has(item)) return;
    this.metrics?.adds.inc(this.labels);
    this.dirty.add(item);
    // While a worker holds it, done() re-queues it: one worker per key at a time.
    if (this.processing.has(item)) return;
    this.pushWhenDue(item);
  }

  /** Adds the key after `delayMs`; a nearer pending delay for the same key wins. */
  addAfter(item: K, delayMs: number): void {
    if (this.shuttingDownFlag) return;
    if (delayMs <= 0) {
      this.add(item);
      return;
    }
    const at = performance.now() + delayMs;
    const pending = this.waiting.get(item);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.waiting.delete(item);
      this.add(item);
    }, delayMs);
    this.waiting.set(item, { at, timer });
  }

  /** Adds the key after its rate-limited backoff (an error retry). */
  addRateLimited(item: K): void {
    if (this.shuttingDownFlag) return;
    this.metrics?.retries.inc(this.labels);
    this.addAfter(item, this.rateLimiter.when(item));
  }

  /** Resets the key's backoff (call on success). */
  forget(item: K): void {
    this.rateLimiter.forget(item);
  }

  numRequeues(item: K): number {
    return this.rateLimiter.numRequeues(item);
  }

  /** The next key to work on, waiting if none is ready; undefined once shut down and empty. */
  get(): Promise<K | undefined> {
    const item = this.pop();
    if (item !== undefined) return Promise.resolve(item);
    if (this.shuttingDownFlag) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** The worker finished the key; if it was re-added meanwhile, it is queued again now. */
  done(item: K): void {
    const started = this.processing.get(item);
    if (started === undefined) return;
    this.processing.delete(item);
    this.metrics?.workDuration.observe(this.labels, (performance.now() - started) / 1000);
    if (this.dirty.has(item) && !this.shuttingDownFlag) this.pushWhenDue(item);
    if (this.processing.size === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  /** Keys waiting for a worker (not counting delayed or in-flight ones). */
  len(): number {
    return this.queue.length - this.head;
  }

  isProcessing(item: K): boolean {
    return this.processing.has(item);
  }

  shuttingDown(): boolean {
    return this.shuttingDownFlag;
  }

  /** Stops accepting keys; idle workers get undefined; queued keys are dropped. */
  shutDown(): void {
    this.shuttingDownFlag = true;
    for (const { timer } of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
    for (const timer of this.spaced.values()) clearTimeout(timer);
    this.spaced.clear();
    this.queue = [];
    this.head = 0;
    this.dirty.clear();
    this.addedAt.clear();
    this.metrics?.depth.set(this.labels, 0);
    for (const g of this.getters.splice(0)) g(undefined);
  }

  /** shutDown, then resolves when every in-flight key has been marked done. */
  async shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return;
    await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  /** Sum of the running times of in-flight keys, seconds. */
  unfinishedWorkSeconds(): number {
    const now = performance.now();
    let total = 0;
    for (const started of this.processing.values()) total += now - started;
    return total / 1000;
  }

  longestRunningProcessorSeconds(): number {
    const now = performance.now();
    let oldest = now;
    for (const started of this.processing.values()) oldest = Math.min(oldest, started);
    return (now - oldest) / 1000;
  }

  /** Queues a dirty key now, or once minIntervalMs has passed since a worker last took it. */
  private pushWhenDue(item: K): void {
    if (this.spaced.has(item)) return;
    const last = this.lastTaken.get(item);
    const waitMs = last === undefined ? 0 : last + this.minIntervalMs - performance.now();
    if (waitMs <= 0) {
      this.lastTaken.delete(item);
      this.addedAt.set(item, performance.now());
      this.push(item);
      return;
    }
    const timer = setTimeout(() => {
      this.spaced.delete(item);
      if (this.shuttingDownFlag || !this.dirty.has(item) || this.processing.has(item)) return;
      this.lastTaken.delete(item);
      this.addedAt.set(item, performance.now());
      this.push(item);
    }, waitMs);
    this.spaced.set(item, timer);
  }

  private push(item: K): void {
    const getter = this.getters.shift();
    if (getter) {
      this.take(item);
      getter(item);
      return;
    }
    this.queue.push(item);
    this.metrics?.depth.inc(this.labels);
  }

  private pop(): K | undefined {
    if (this.head >= this.queue.length) return undefined;
    const item = this.queue[this.head] as K;
    this.head++;
    // Compact occasionally so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.metrics?.depth.dec(this.labels);
    this.take(item);
    return item;
  }

  private take(item: K): void {
    const added = this.addedAt.get(item);
    this.addedAt.delete(item);
    if (added !== undefined)
      this.metrics?.queueDuration.observe(this.labels, (performance.now() - added) / 1000);
    this.processing.set(item, performance.now());
    if (this.minIntervalMs > 0) this.lastTaken.set(item, performance.now());
    this.dirty.delete(item);
  }
}

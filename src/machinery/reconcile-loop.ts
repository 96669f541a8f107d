// The reconcile loop of a controller, knowing nothing about what it reconciles:
// N workers take keys from a WorkQueue, call `reconcile`, requeue after the
// delay it returns, and retry failures with the queue's rate limiter (client-go's
// processNextWorkItem, controller-runtime's reconcileHandler), recording
// controller-runtime's controller_runtime_* metrics.
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { WorkQueue } from './workqueue.ts';

/** One reconcile of `key`: resolves to a requeue-after delay in ms, or undefined for none. */
export type Reconcile<K> = (key: K, signal?: AbortSignal) => Promise<number | undefined>;

export interface ReconcileLoopOptions<K> {
  /** The `controller` label of the metrics. */
  name: string;
  queue: WorkQueue<K>;
  reconcile: Reconcile<K>;
  workers: number;
  logger: Logger;
  registry?: Registry;
}

// controller-runtime's reconcile time buckets.
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25,
  1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

type Result = 'success' | 'error' | 'requeue' | 'requeue_after';

function reconcileMetrics(registry: Registry, controller: string, workers: number) {
  const labelNames = ['controller'] as const;
  const registers = [registry];
  const m = {
    total: new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'] as const,
      registers,
    }),
    errors: new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames,
      registers,
    }),
    time: new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames,
      registers,
      buckets: RECONCILE_BUCKETS,
    }),
    maxConcurrent: new Gauge({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller',
      labelNames,
      registers,
    }),
    active: new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller',
      labelNames,
      registers,
    }),
  };
  for (const result of ['success', 'error', 'requeue', 'requeue_after'] satisfies Result[])
    m.total.inc({ controller, result }, 0);
  m.errors.inc({ controller }, 0);
  m.maxConcurrent.set({ controller }, workers);
  m.active.set({ controller }, 0);
  return m;
}

export class ReconcileLoop<K> {
  private readonly o: ReconcileLoopOptions<K>;
  private readonly metrics: ReturnType<typeof reconcileMetrics> | undefined;
  private readonly labels: { controller: string };

  constructor(options: ReconcileLoopOptions<K>) {
    this.o = options;
    this.labels = { controller: options.name };
    this.metrics = options.registry
      ? reconcileMetrics(options.registry, options.name, options.workers)
      : undefined;
  }

  /**
   * Runs the workers until the queue shuts down. `signal` aborts when this process must stop
   * writing (leadership lost): a failure then is not retried.
   */
  async run(signal?: AbortSignal): Promise<void> {
    await Promise.all(Array.from({ length: this.o.workers }, () => this.worker(signal)));
  }

  private async worker(signal?: AbortSignal): Promise<void> {
    const { queue, logger } = this.o;
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const started = performance.now();
      this.metrics?.active.inc(this.labels);
      let result: Result = 'success';
      try {
        const requeueAfterMs = await this.o.reconcile(key, signal);
        queue.forget(key);
        if (requeueAfterMs !== undefined && requeueAfterMs >= 0) {
          queue.addAfter(key, requeueAfterMs);
          result = 'requeue_after';
        }
      } catch (err) {
        result = 'error';
        this.metrics?.errors.inc(this.labels);
        if (!signal?.aborted) {
          logger.warn({ err, key, retries: queue.numRequeues(key) }, 'reconcile failed, will retry');
          queue.addRateLimited(key);
        }
      } finally {
        queue.done(key);
        this.metrics?.active.dec(this.labels);
        this.metrics?.total.inc({ ...this.labels, result });
        this.metrics?.time.observe(this.labels, (performance.now() - started) / 1000);
      }
    }
  }
}

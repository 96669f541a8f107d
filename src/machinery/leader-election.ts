// Leader election on a coordination.k8s.io/v1 Lease, following client-go's
// tools/leaderelection (client-node has none):
// - acquire: every retryPeriod, take the Lease if it is free, ours, or its
//   holder has not renewed it for leaseDuration as measured on OUR clock since
//   we last saw the record change (no trust in other clocks);
// - renew: every retryPeriod; if no renewal succeeds within renewDeadline, or
//   someone else is seen holding the Lease, leadership is lost at once;
// - every write is an update carrying the read resourceVersion, so two
//   candidates racing get a 409 and only one wins;
// - release on stop: holderIdentity emptied and leaseDurationSeconds=1, so a
//   standby takes over within one retry period.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { isAlreadyExists, isConflict, isNotFound, resourcePath, resources, type KubeClient } from './kube.ts';

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  spec?: LeaseSpec;
}

export type StoppedReason = 'lost' | 'stopped';

export interface LeaderElectorOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  /** Unique per process (hostname + random suffix), written as holderIdentity. */
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger: Logger;
  registry?: Registry;
  /** Called once leadership is acquired; `leading` aborts when it ends. */
  onStartedLeading: (leading: AbortSignal) => void;
  /** Called when leadership ends: 'lost' (renewal failed or taken over) or 'stopped' (released by stop()). */
  onStoppedLeading?: (reason: StoppedReason) => void;
  /** Called whenever the observed holder changes (including to us). */
  onNewLeader?: (identity: string) => void;
}

const gauges = new WeakMap<Registry, Gauge<'name'>>();
function masterStatus(registry: Registry): Gauge<'name'> {
  let g = gauges.get(registry);
  if (!g) {
    g = new Gauge({
      name: 'leader_election_master_status',
      help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.",
      labelNames: ['name'],
      registers: [registry],
    });
    gauges.set(registry, g);
  }
  return g;
}

/** metav1.MicroTime's wire format: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private readonly o: Required<Omit<LeaderElectorOptions, 'registry' | 'onStoppedLeading' | 'onNewLeader'>> &
    LeaderElectorOptions;
  private readonly path: string;
  private readonly log: Logger;
  private readonly status: Gauge<'name'> | undefined;
  private readonly stopController = new AbortController();
  private observed: Lease | undefined;
  private observedSpecJson = '';
  /** Our clock's time when the Lease record last changed. */
  private observedTime = 0;
  private leading: AbortController | undefined;
  private running: Promise<void> | undefined;
  private lastLeader = '';

  constructor(options: LeaderElectorOptions) {
    this.o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...options };
    if (this.o.leaseDurationMs <= this.o.renewDeadlineMs)
      throw new Error('leaseDuration must be greater than renewDeadline');
    if (this.o.renewDeadlineMs <= this.o.retryPeriodMs * 1.2)
      throw new Error('renewDeadline must be greater than retryPeriod*1.2');
    this.path = resourcePath(resources.leases, { namespace: options.namespace, name: options.name });
    this.log = options.logger.child({
      lease: `${options.namespace}/${options.name}`,
      identity: options.identity,
    });
    this.status = options.registry ? masterStatus(options.registry) : undefined;
    this.status?.set({ name: options.name }, 0);
  }

  isLeader(): boolean {
    return this.leading !== undefined && !this.leading.signal.aborted;
  }

  /** The holder we last observed ('' when none). */
  leader(): string {
    return this.observed?.spec?.holderIdentity ?? '';
  }

  /** Starts campaigning; the returned promise settles when leadership has ended or stop() was called. */
  start(): Promise<void> {
    this.running ??= this.run();
    return this.running;
  }

  /** Stops campaigning or leading, releasing the Lease if we hold it. */
  async stop(): Promise<void> {
    this.stopController.abort();
    await this.running;
  }

  private get stopped(): boolean {
    return this.stopController.signal.aborted;
  }

  private async run(): Promise<void> {
    if (!(await this.acquire())) return;
    const leading = new AbortController();
    this.leading = leading;
    this.status?.set({ name: this.o.name }, 1);
    this.log.info('acquired the lease, leading');
    try {
      this.o.onStartedLeading(leading.signal);
    } catch (err) {
      this.log.error({ err }, 'onStartedLeading threw');
    }
    const reason = await this.renew();
    leading.abort();
    this.status?.set({ name: this.o.name }, 0);
    if (reason === 'stopped') await this.release();
    else this.log.warn('lost the lease');
    this.o.onStoppedLeading?.(reason);
  }

  /** Retries until we hold the Lease (true) or stop() (false). */
  private async acquire(): Promise<boolean> {
    this.log.info('trying to acquire the lease');
    while (!this.stopped) {
      if (await this.tryAcquireOrRenew()) return true;
      if (!(await this.pause(this.o.retryPeriodMs * (1 + Math.random() * 0.2)))) return false;
    }
    return false;
  }

  /** Renews every retryPeriod until a renewal misses the deadline or another holder shows up ('lost') or stop() ('stopped'). */
  private async renew(): Promise<StoppedReason> {
    let lastRenew = performance.now();
    while (!this.stopped) {
      if (!(await this.pause(this.o.retryPeriodMs))) return 'stopped';
      for (;;) {
        const ok = await this.tryAcquireOrRenew(lastRenew + this.o.renewDeadlineMs - performance.now());
        if (this.stopped) return 'stopped';
        if (ok) {
          lastRenew = performance.now();
          break;
        }
        const holder = this.leader();
        if (holder && holder !== this.o.identity) return 'lost';
        if (performance.now() - lastRenew >= this.o.renewDeadlineMs) return 'lost';
        if (!(await this.pause(this.o.retryPeriodMs))) return 'stopped';
      }
    }
    return 'stopped';
  }

  /** One attempt; true when we hold the Lease afterwards. Never throws. */
  private async tryAcquireOrRenew(budgetMs = this.o.renewDeadlineMs): Promise<boolean> {
    const signal = AbortSignal.any([
      this.stopController.signal,
      AbortSignal.timeout(Math.max(1, Math.ceil(budgetMs))),
    ]);
    const now = Date.now();
    const desired = (prev: LeaseSpec | undefined, weHeldIt: boolean): LeaseSpec => ({
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.round(this.o.leaseDurationMs / 1000),
      acquireTime: weHeldIt ? (prev?.acquireTime ?? microTime(now)) : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (prev?.leaseTransitions ?? 0) + (weHeldIt ? 0 : 1),
    });
    try {
      let current: Lease;
      try {
        current = await this.o.client.request<Lease>('GET', this.path, { signal });
      } catch (err) {
        if (!isNotFound(err)) throw err;
        const created = await this.o.client.request<Lease>(
          'POST',
          resourcePath(resources.leases, { namespace: this.o.namespace }),
          {
            body: {
              apiVersion: 'coordination.k8s.io/v1',
              kind: 'Lease',
              metadata: { name: this.o.name, namespace: this.o.namespace },
              spec: { ...desired(undefined, false), leaseTransitions: 0 },
            },
            signal,
          },
        );
        this.observe(created);
        return true;
      }
      this.observe(current);
      const holder = current.spec?.holderIdentity ?? '';
      const weHeldIt = holder === this.o.identity;
      const expired =
        performance.now() > this.observedTime + (current.spec?.leaseDurationSeconds ?? 0) * 1000;
      if (holder && !weHeldIt && !expired) return false;
      const updated = await this.o.client.request<Lease>('PUT', this.path, {
        body: { ...current, spec: { ...current.spec, ...desired(current.spec, weHeldIt) } },
        signal,
      });
      this.observe(updated);
      return true;
    } catch (err) {
      if (isConflict(err) || isAlreadyExists(err)) {
        this.log.debug('lost a lease update race');
      } else if (!this.stopped) {
        this.log.warn({ err }, 'lease acquire/renew failed');
      }
      return false;
    }
  }

  /** Gives the Lease up so a standby need not wait for it to expire (client-go ReleaseOnCancel). */
  private async release(): Promise<void> {
    const current = this.observed;
    if (!current || current.spec?.holderIdentity !== this.o.identity) return;
    const now = microTime(Date.now());
    try {
      const released = await this.o.client.request<Lease>('PUT', this.path, {
        body: {
          ...current,
          spec: {
            holderIdentity: '',
            leaseDurationSeconds: 1,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: current.spec.leaseTransitions ?? 0,
          },
        },
        signal: AbortSignal.timeout(Math.ceil(this.o.renewDeadlineMs)),
      });
      this.observe(released);
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn({ err }, 'releasing the lease failed; it expires on its own');
    }
  }

  private observe(lease: Lease): void {
    const specJson = JSON.stringify(lease.spec ?? {});
    if (specJson !== this.observedSpecJson) {
      this.observedSpecJson = specJson;
      this.observedTime = performance.now();
    }
    this.observed = lease;
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== this.lastLeader) {
      this.lastLeader = holder;
      if (holder) {
        this.log.info({ leader: holder }, 'new leader observed');
        try {
          this.o.onNewLeader?.(holder);
        } catch (err) {
          this.log.error({ err }, 'onNewLeader threw');
        }
      }
    }
  }

  /** Sleeps; false when stop() interrupted it. */
  private async pause(ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.stopController.signal });
      return true;
    } catch {
      return false;
    }
  }
}

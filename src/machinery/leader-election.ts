// Leader election on a coordination.k8s.io/v1 Lease, following client-go's
// tools/leaderelection (leaderelection.go: tryAcquireOrRenew, renew, release;
// client-node has none):
// - acquire: every retryPeriod, take the Lease if it is free, ours, or its
//   holder has not renewed it for leaseDuration as measured on OUR clock since
//   we last saw the record change (no trust in other clocks);
// - renew: every retryPeriod; if no renewal succeeds within renewDeadline, or
//   someone else is seen holding the Lease, leadership is lost at once;
// - every write is an update carrying the read resourceVersion, so two
//   candidates racing get a 409 and only one wins;
// - release on stop: holderIdentity emptied and leaseDurationSeconds=1, so a
//   standby takes over within one retry period.
// The decisions are pure functions (decideAcquireOrRenew, observeLease,
// decideAfterFailedRenew, releasedSpec, validateElectionTimings), unit-tested
// with plain objects; the LeaderElector class is the I/O shell that calls them.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { isAlreadyExists, isConflict, isNotFound, resourcePath, resources, type KubeClient } from './kube.ts';
import { microTime } from './time.ts';

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

/** What this elector remembers of the Lease record (client-go's observedRawRecord and observedTime). */
export interface Observation {
  /** The spec as last seen, serialised: a change of any field (renewTime included) is a sign of life. */
  specJson: string;
  /** Our monotonic clock when the record last changed. */
  observedAt: number;
}

export const NO_OBSERVATION: Observation = { specJson: '', observedAt: 0 };

/** The holder a Lease names ('' when none). */
export const leaderOf = (lease: Lease | undefined): string => lease?.spec?.holderIdentity ?? '';

/** Notes a Lease just read or written: the local time moves only when the record changed. */
export function observeLease(prev: Observation, lease: Lease, localNow: number): Observation {
  const specJson = JSON.stringify(lease.spec ?? {});
  return specJson === prev.specJson ? prev : { specJson, observedAt: localNow };
}

export interface AcquireInput {
  /** The Lease as just read; undefined when it does not exist (GET said 404). */
  lease: Lease | undefined;
  identity: string;
  leaseDurationMs: number;
  /** What this elector observed before this read. */
  observed: Observation;
  /** Our monotonic clock (performance.now): judges expiry, never the Lease's renewTime. */
  localNow: number;
  /** The wall clock (Date.now), written into acquireTime and renewTime. */
  wallNow: number;
}

export type AcquireDecision = {
  /** The observation after this read (pass it on to the next decision). */
  observed: Observation;
  /** Who leads once the action succeeds. */
  leader: string;
} & (
  | /** No Lease yet: create it, holding it. */ { action: 'create'; spec: LeaseSpec }
  | /** We hold it: update renewTime, keep acquireTime and leaseTransitions. */ {
      action: 'renew';
      spec: LeaseSpec;
    }
  | /** Free (no holder) or expired on our clock: take it, leaseTransitions + 1. */ {
      action: 'take-over';
      spec: LeaseSpec;
      previousHolder: string;
    }
  | /** Someone else holds a valid Lease: stay a follower. */ { action: 'follow'; expiresInMs: number }
);

/**
 * client-go's tryAcquireOrRenew after the read: create a missing Lease, renew
 * ours, take over one that is free or whose record has not changed for its
 * leaseDurationSeconds on our clock, otherwise follow. The written spec keeps
 * the Lease's other fields.
 */
export function decideAcquireOrRenew(input: AcquireInput): AcquireDecision {
  const { lease, identity, wallNow } = input;
  const leaseDurationSeconds = Math.round(input.leaseDurationMs / 1000);
  if (!lease) {
    const now = microTime(wallNow);
    return {
      action: 'create',
      observed: input.observed,
      leader: identity,
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      },
    };
  }
  const observed = observeLease(input.observed, lease, input.localNow);
  const prev = lease.spec;
  const holder = leaderOf(lease);
  const weHeldIt = holder === identity;
  const validUntil = observed.observedAt + (prev?.leaseDurationSeconds ?? 0) * 1000;
  const expired = input.localNow > validUntil;
  if (holder && !weHeldIt && !expired) {
    return { action: 'follow', observed, leader: holder, expiresInMs: validUntil - input.localNow };
  }
  const now = microTime(wallNow);
  const spec: LeaseSpec = {
    ...prev,
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: weHeldIt ? (prev?.acquireTime ?? now) : now,
    renewTime: now,
    leaseTransitions: (prev?.leaseTransitions ?? 0) + (weHeldIt ? 0 : 1),
  };
  return weHeldIt
    ? { action: 'renew', observed, leader: identity, spec }
    : { action: 'take-over', observed, leader: identity, spec, previousHolder: holder };
}

export interface FailedRenewInput {
  /** The holder in the last observed record. */
  observedHolder: string;
  identity: string;
  /** Our monotonic clock at the last successful renewal, and now. */
  lastRenewAt: number;
  localNow: number;
  renewDeadlineMs: number;
}

/**
 * After a renewal attempt failed: step down at once when another holder was
 * seen (everynode's choice; client-go waits for the deadline) or when the renew
 * deadline has passed since the last success (client-go's renew loop), else retry.
 */
export function decideAfterFailedRenew(
  input: FailedRenewInput,
): { action: 'retry' } | { action: 'step-down'; why: 'taken-over' | 'deadline' } {
  if (input.observedHolder && input.observedHolder !== input.identity)
    return { action: 'step-down', why: 'taken-over' };
  if (input.localNow - input.lastRenewAt >= input.renewDeadlineMs)
    return { action: 'step-down', why: 'deadline' };
  return { action: 'retry' };
}

/** How long a renewal attempt may take: what is left of the renew deadline. */
export const renewBudgetMs = (lastRenewAt: number, localNow: number, renewDeadlineMs: number): number =>
  lastRenewAt + renewDeadlineMs - localNow;

/**
 * The spec that releases a Lease we hold (client-go ReleaseOnCancel): no
 * holder, leaseDurationSeconds 1, transitions kept. Undefined when the last
 * observed record is not ours, so there is nothing to release.
 */
export function releasedSpec(
  observed: Lease | undefined,
  identity: string,
  wallNow: number,
): LeaseSpec | undefined {
  if (!observed || leaderOf(observed) !== identity) return undefined;
  const now = microTime(wallNow);
  return {
    holderIdentity: '',
    leaseDurationSeconds: 1,
    acquireTime: now,
    renewTime: now,
    leaseTransitions: observed.spec?.leaseTransitions ?? 0,
  };
}

/** client-go's NewLeaderElector checks: leaseDuration > renewDeadline > retryPeriod·1.2. */
export function validateElectionTimings(
  leaseDurationMs: number,
  renewDeadlineMs: number,
  retryPeriodMs: number,
): void {
  if (leaseDurationMs <= renewDeadlineMs) throw new Error('leaseDuration must be greater than renewDeadline');
  if (renewDeadlineMs <= retryPeriodMs * 1.2)
    throw new Error('renewDeadline must be greater than retryPeriod*1.2');
}

export class LeaderElector {
  private readonly o: Required<Omit<LeaderElectorOptions, 'registry' | 'onStoppedLeading' | 'onNewLeader'>> &
    LeaderElectorOptions;
  private readonly path: string;
  private readonly log: Logger;
  private readonly status: Gauge<'name'> | undefined;
  private readonly stopController = new AbortController();
  private observed: Lease | undefined;
  private observation: Observation = NO_OBSERVATION;
  private leading: AbortController | undefined;
  private running: Promise<void> | undefined;
  private lastLeader = '';

  constructor(options: LeaderElectorOptions) {
    this.o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...options };
    validateElectionTimings(this.o.leaseDurationMs, this.o.renewDeadlineMs, this.o.retryPeriodMs);
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
    return leaderOf(this.observed);
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
        const ok = await this.tryAcquireOrRenew(
          renewBudgetMs(lastRenew, performance.now(), this.o.renewDeadlineMs),
        );
        if (this.stopped) return 'stopped';
        if (ok) {
          lastRenew = performance.now();
          break;
        }
        const next = decideAfterFailedRenew({
          observedHolder: this.leader(),
          identity: this.o.identity,
          lastRenewAt: lastRenew,
          localNow: performance.now(),
          renewDeadlineMs: this.o.renewDeadlineMs,
        });
        if (next.action === 'step-down') return 'lost';
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
    try {
      let current: Lease | undefined;
      try {
        current = await this.o.client.request<Lease>('GET', this.path, { signal });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (current) this.observe(current);
      const decision = decideAcquireOrRenew({
        lease: current,
        identity: this.o.identity,
        leaseDurationMs: this.o.leaseDurationMs,
        observed: this.observation,
        localNow: performance.now(),
        wallNow: Date.now(),
      });
      let written: Lease;
      switch (decision.action) {
        case 'follow':
          return false;
        case 'create':
          written = await this.o.client.request<Lease>(
            'POST',
            resourcePath(resources.leases, { namespace: this.o.namespace }),
            {
              body: {
                apiVersion: 'coordination.k8s.io/v1',
                kind: 'Lease',
                metadata: { name: this.o.name, namespace: this.o.namespace },
                spec: decision.spec,
              },
              signal,
            },
          );
          break;
        case 'renew':
        case 'take-over':
          written = await this.o.client.request<Lease>('PUT', this.path, {
            body: { ...current, spec: decision.spec },
            signal,
          });
          break;
      }
      this.observe(written);
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
    const spec = releasedSpec(current, this.o.identity, Date.now());
    if (!current || !spec) return;
    try {
      const released = await this.o.client.request<Lease>('PUT', this.path, {
        body: { ...current, spec },
        signal: AbortSignal.timeout(Math.ceil(this.o.renewDeadlineMs)),
      });
      this.observe(released);
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn({ err }, 'releasing the lease failed; it expires on its own');
    }
  }

  /** Remembers a Lease read or written, and reports a change of holder. */
  private observe(lease: Lease): void {
    this.observation = observeLease(this.observation, lease, performance.now());
    this.observed = lease;
    const holder = leaderOf(lease);
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

// Leader election's decisions (src/machinery/leader-election.ts) with plain
// Lease objects and injected clocks: client-go's tryAcquireOrRenew (create,
// renew, take over, follow), expiry judged on the local observed time, the
// renew-deadline step-down, and the release on stop. The elector against a
// real API server is test/e2e/controller-leader-election.test.ts.
import { describe, expect, it } from 'vitest';
import {
  decideAcquireOrRenew,
  decideAfterFailedRenew,
  leaderOf,
  NO_OBSERVATION,
  observeLease,
  releasedSpec,
  renewBudgetMs,
  validateElectionTimings,
  type AcquireDecision,
  type Lease,
  type LeaseSpec,
  type Observation,
} from '../../../src/machinery/leader-election.ts';
import { microTime } from '../../../src/machinery/time.ts';

const WALL = Date.parse('2026-03-01T12:00:00.000Z');
const NOW = microTime(WALL);
const EARLIER = '2026-03-01T11:00:00.000000Z';

const lease = (spec: LeaseSpec): Lease => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name: 'everynode-controller', namespace: 'kube-system', resourceVersion: '42' },
  spec,
});

const held = (holder: string, extra: Partial<LeaseSpec> = {}): Lease =>
  lease({
    holderIdentity: holder,
    leaseDurationSeconds: 15,
    acquireTime: EARLIER,
    renewTime: EARLIER,
    leaseTransitions: 3,
    ...extra,
  });

/** What `me` decides about `l`, having observed `observed`, at local time `localNow` (ms). */
const decide = (
  l: Lease | undefined,
  observed: Observation,
  localNow: number,
  identity = 'me',
): AcquireDecision =>
  decideAcquireOrRenew({ lease: l, identity, leaseDurationMs: 15_000, observed, localNow, wallNow: WALL });

/** The observation of `l` made at local time `at`. */
const seenAt = (l: Lease, at: number): Observation => observeLease(NO_OBSERVATION, l, at);

describe('decideAcquireOrRenew (client-go tryAcquireOrRenew)', () => {
  it('creates a missing Lease, holding it, with no transitions', () => {
    expect(decide(undefined, NO_OBSERVATION, 1_000)).toEqual({
      action: 'create',
      leader: 'me',
      observed: NO_OBSERVATION,
      spec: {
        holderIdentity: 'me',
        leaseDurationSeconds: 15,
        acquireTime: NOW,
        renewTime: NOW,
        leaseTransitions: 0,
      },
    });
  });

  const table: Array<{
    name: string;
    lease: Lease;
    /** Local time of the previous observation, or undefined when this is the first read. */
    seenBefore?: { lease: Lease; at: number };
    localNow: number;
    action: AcquireDecision['action'];
    leader: string;
    transitions?: number;
    acquireTime?: string;
  }> = [
    {
      name: 'our own Lease is renewed: acquireTime and leaseTransitions kept',
      lease: held('me'),
      seenBefore: { lease: held('me'), at: 0 },
      localNow: 5_000,
      action: 'renew',
      leader: 'me',
      transitions: 3,
      acquireTime: EARLIER,
    },
    {
      name: 'our own Lease is renewed even when it looks expired on our clock',
      lease: held('me'),
      seenBefore: { lease: held('me'), at: 0 },
      localNow: 60_000,
      action: 'renew',
      leader: 'me',
      transitions: 3,
    },
    {
      name: 'released by its holder (holderIdentity empty): taken over at once, transitions + 1',
      lease: held('', { leaseDurationSeconds: 1 }),
      localNow: 0,
      action: 'take-over',
      leader: 'me',
      transitions: 4,
      acquireTime: NOW,
    },
    {
      name: 'held by another, first seen just now: follow (its duration starts on our clock now)',
      lease: held('other'),
      localNow: 100_000,
      action: 'follow',
      leader: 'other',
    },
    {
      name: 'held by another and renewed within its duration (the record changed): follow',
      lease: held('other', { renewTime: NOW }),
      seenBefore: { lease: held('other'), at: 0 },
      localNow: 14_000,
      action: 'follow',
      leader: 'other',
    },
    {
      name: 'held by another, unchanged for less than leaseDurationSeconds: follow',
      lease: held('other'),
      seenBefore: { lease: held('other'), at: 0 },
      localNow: 15_000,
      action: 'follow',
      leader: 'other',
    },
    {
      name: 'held by another, unchanged for longer than leaseDurationSeconds: taken over, transitions + 1',
      lease: held('other'),
      seenBefore: { lease: held('other'), at: 0 },
      localNow: 15_001,
      action: 'take-over',
      leader: 'me',
      transitions: 4,
      acquireTime: NOW,
    },
    {
      name: 'expiry uses the Lease’s leaseDurationSeconds, not ours',
      lease: held('other', { leaseDurationSeconds: 60 }),
      seenBefore: { lease: held('other', { leaseDurationSeconds: 60 }), at: 0 },
      localNow: 30_000,
      action: 'follow',
      leader: 'other',
    },
    {
      name: 'a Lease without leaseTransitions counts from 0',
      lease: lease({ holderIdentity: '' }),
      localNow: 0,
      action: 'take-over',
      leader: 'me',
      transitions: 1,
    },
  ];
  it.each(table)('$name', ({ lease: l, seenBefore, localNow, action, leader, transitions, acquireTime }) => {
    const observed = seenBefore ? seenAt(seenBefore.lease, seenBefore.at) : NO_OBSERVATION;
    const d = decide(l, observed, localNow);
    expect(d.action).toBe(action);
    expect(d.leader).toBe(leader);
    if (d.action === 'follow') return;
    expect(d.spec.holderIdentity).toBe('me');
    expect(d.spec.leaseDurationSeconds).toBe(15);
    expect(d.spec.renewTime).toBe(NOW);
    if (transitions !== undefined) expect(d.spec.leaseTransitions).toBe(transitions);
    if (acquireTime !== undefined) expect(d.spec.acquireTime).toBe(acquireTime);
  });

  it('judges expiry by when WE last saw the record change, not by the Lease’s renewTime', () => {
    // renewTime says an hour ago (the holder's clock may be off), but the record changed under our eyes 1 s ago.
    const stale = held('other', { renewTime: EARLIER });
    const before = seenAt(held('other', { renewTime: '2026-03-01T10:59:00.000000Z' }), 0);
    const d = decide(stale, before, 1_000);
    expect(d).toMatchObject({ action: 'follow', leader: 'other', expiresInMs: 15_000 });
    expect(d.observed.observedAt).toBe(1_000);

    // renewTime says "now" (a clock running ahead), but the record has not changed for 20 s on our clock.
    const ahead = held('other', { renewTime: NOW });
    const d2 = decide(ahead, seenAt(ahead, 0), 20_000);
    expect(d2.action).toBe('take-over');
    expect(d2.observed.observedAt).toBe(0);
  });

  it('an unchanged record keeps its observed time; any change of the spec resets it', () => {
    const a = held('other');
    const first = observeLease(NO_OBSERVATION, a, 100);
    expect(first.observedAt).toBe(100);
    expect(observeLease(first, held('other'), 900)).toBe(first);
    expect(observeLease(first, held('other', { renewTime: NOW }), 900).observedAt).toBe(900);
    // resourceVersion alone is not the record.
    expect(observeLease(first, { ...a, metadata: { ...a.metadata, resourceVersion: '43' } }, 900)).toBe(
      first,
    );
  });

  it('keeps fields of the Lease it does not manage', () => {
    const l = lease({
      holderIdentity: 'me',
      leaseDurationSeconds: 15,
      strategy: 'OldestEmulationVersion',
    } as LeaseSpec);
    const d = decide(l, seenAt(l, 0), 1);
    if (d.action !== 'renew') throw new Error(`expected renew, got ${d.action}`);
    expect((d.spec as Record<string, unknown>).strategy).toBe('OldestEmulationVersion');
  });

  it('counts leaseTransitions across a hand-over chain a → b → a', () => {
    let l = lease({});
    let local = 0;
    const seen: Record<string, Observation> = { a: NO_OBSERVATION, b: NO_OBSERVATION };
    const step = (who: 'a' | 'b') => {
      // The wall clock moves with the local one, so every renewal changes renewTime.
      const d = decideAcquireOrRenew({
        lease: l,
        identity: who,
        leaseDurationMs: 15_000,
        observed: seen[who]!,
        localNow: local,
        wallNow: WALL + local,
      });
      seen[who] = d.observed;
      if (d.action !== 'follow') {
        l = { ...l, spec: d.spec };
        seen[who] = observeLease(seen[who], l, local);
      }
      return d.action;
    };
    expect(step('a')).toBe('take-over'); // an empty Lease
    expect(step('b')).toBe('follow');
    local += 10_000;
    expect(step('a')).toBe('renew');
    local += 10_000;
    // 20 s after b first saw the Lease, but a renewed it 10 s ago: b's clock restarted then.
    expect(step('b')).toBe('follow');
    local += 14_000; // a stopped renewing; 14 s since b saw the change: still valid
    expect(step('b')).toBe('follow');
    local += 2_000; // 16 s
    expect(step('b')).toBe('take-over');
    expect(leaderOf(l)).toBe('b');
    // a releases nothing (it is no longer the holder) and must follow b now.
    expect(releasedSpec(l, 'a', WALL)).toBeUndefined();
    expect(step('a')).toBe('follow');
    // b releases on stop; a takes over at once.
    l = { ...l, spec: releasedSpec(l, 'b', WALL)! };
    expect(step('a')).toBe('take-over');
    expect(l.spec?.leaseTransitions).toBe(3);
  });
});

describe('decideAfterFailedRenew (renew deadline, step-down)', () => {
  const base = { identity: 'me', renewDeadlineMs: 10_000 };
  const table: Array<{
    name: string;
    observedHolder: string;
    lastRenewAt: number;
    localNow: number;
    expected: unknown;
  }> = [
    {
      name: 'a failure within the deadline: retry',
      observedHolder: 'me',
      lastRenewAt: 0,
      localNow: 9_999,
      expected: { action: 'retry' },
    },
    {
      name: 'the deadline passed without a renewal: step down',
      observedHolder: 'me',
      lastRenewAt: 0,
      localNow: 10_000,
      expected: { action: 'step-down', why: 'deadline' },
    },
    {
      name: 'someone else holds the Lease: step down at once',
      observedHolder: 'other',
      lastRenewAt: 0,
      localNow: 1,
      expected: { action: 'step-down', why: 'taken-over' },
    },
    {
      name: 'no holder observed (released under us) within the deadline: retry',
      observedHolder: '',
      lastRenewAt: 0,
      localNow: 2_000,
      expected: { action: 'retry' },
    },
  ];
  it.each(table)('$name', ({ observedHolder, lastRenewAt, localNow, expected }) => {
    expect(decideAfterFailedRenew({ ...base, observedHolder, lastRenewAt, localNow })).toEqual(expected);
  });

  it('gives each attempt what is left of the deadline', () => {
    expect(renewBudgetMs(1_000, 3_000, 10_000)).toBe(8_000);
    expect(renewBudgetMs(0, 12_000, 10_000)).toBe(-2_000);
  });
});

describe('releasedSpec (release on stop)', () => {
  it('empties the holder, shortens the duration to 1 s and keeps the transitions', () => {
    expect(releasedSpec(held('me'), 'me', WALL)).toEqual({
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: NOW,
      renewTime: NOW,
      leaseTransitions: 3,
    });
  });

  it('releases nothing it does not hold', () => {
    expect(releasedSpec(undefined, 'me', WALL)).toBeUndefined();
    expect(releasedSpec(held('other'), 'me', WALL)).toBeUndefined();
    expect(releasedSpec(held(''), 'me', WALL)).toBeUndefined();
  });
});

describe('validateElectionTimings', () => {
  it('accepts client-go’s defaults and rejects inconsistent timings', () => {
    expect(() => validateElectionTimings(15_000, 10_000, 2_000)).not.toThrow();
    expect(() => validateElectionTimings(10_000, 10_000, 2_000)).toThrow(/leaseDuration must be greater/);
    expect(() => validateElectionTimings(15_000, 2_400, 2_000)).toThrow(/renewDeadline must be greater/);
  });
});

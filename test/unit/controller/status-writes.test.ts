// Fewer status writes: counters-only changes coalesced to one write per second per DaemonSet
// (statusWriteDelayMs), and the controller's own last status write used until the informer has
// it (StatusWrites), so a sync never plans from the version that write replaced.
import type { V1DaemonSet, V1DaemonSetStatus } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { StatusWrites } from '../../../src/controller/executor.ts';
import {
  STATUS_COALESCE_MS,
  STATUS_COALESCE_THROTTLED_MS,
  statusCoalesceMs,
  statusWriteDelayMs,
} from '../../../src/controller/status.ts';

const status = (over: Partial<V1DaemonSetStatus> = {}): V1DaemonSetStatus => ({
  currentNumberScheduled: 10,
  desiredNumberScheduled: 10,
  numberMisscheduled: 0,
  numberReady: 10,
  numberAvailable: 10,
  updatedNumberScheduled: 4,
  observedGeneration: 2,
  conditions: [
    {
      type: 'Progressing',
      status: 'True',
      reason: 'NewRevisionProgressing',
      message: 'revision foo-1: 4 of 10 nodes updated, 4 available',
      lastTransitionTime: '2026-01-01T00:00:00Z' as never,
    },
  ],
  ...over,
});
const T = 1_000_000;

describe('statusWriteDelayMs', () => {
  const progressing = (message: string, reason = 'NewRevisionProgressing') => ({
    conditions: [{ ...status().conditions![0]!, message, reason }],
  });
  it.each<[string, Partial<V1DaemonSetStatus>, number | undefined, number]>([
    ['no earlier write: now', { updatedNumberScheduled: 5 }, undefined, 0],
    ['counters, 200 ms after the last write: held 800 ms', { updatedNumberScheduled: 5 }, T - 200, 800],
    ['counters, a second after: now', { updatedNumberScheduled: 5 }, T - STATUS_COALESCE_MS, 0],
    [
      'counters and the Progressing counts: held',
      { updatedNumberScheduled: 5, ...progressing('revision foo-1: 5 of 10 nodes updated, 4 available') },
      T - 200,
      800,
    ],
    ['a new observedGeneration: now', { observedGeneration: 3 }, T - 200, 0],
    [
      'Progressing changes reason: now',
      progressing('revision foo-1: done', 'NewRevisionAvailable'),
      T - 200,
      0,
    ],
    [
      'a condition appears: now',
      { conditions: [...status().conditions!, { type: 'RolloutWave', status: 'True', message: 'wave 1/2' }] },
      T - 200,
      0,
    ],
    ['collisionCount: now', { collisionCount: 1 }, T - 200, 0],
    [
      'the last counters of a rollout (every pod updated and available): now',
      { updatedNumberScheduled: 10 },
      T - 200,
      0,
    ],
  ])('%s', (_, change, last, want) => {
    expect(statusWriteDelayMs(status(), status(change), last, T)).toBe(want);
  });
  it('while pod writes queue for tokens, counters wait up to the longer interval; the rest still goes at once', () => {
    const interval = statusCoalesceMs(true);
    expect(interval).toBe(STATUS_COALESCE_THROTTLED_MS);
    expect(statusCoalesceMs(false)).toBe(STATUS_COALESCE_MS);
    const counters = status({ updatedNumberScheduled: 5 });
    expect(statusWriteDelayMs(status(), counters, T - 2000, T, interval)).toBe(interval - 2000);
    expect(statusWriteDelayMs(status(), counters, T - interval, T, interval)).toBe(0);
    expect(statusWriteDelayMs(status(), status({ observedGeneration: 3 }), T - 200, T, interval)).toBe(0);
    expect(statusWriteDelayMs(status(), status({ updatedNumberScheduled: 10 }), T - 200, T, interval)).toBe(
      0,
    );
  });
  it('a wave condition whose message (the wave) changes is written at once', () => {
    const wave = (m: string) => ({
      conditions: [{ type: 'RolloutWave', status: 'True', reason: 'WaveInProgress', message: m }],
    });
    expect(statusWriteDelayMs(status(wave('wave 1/3')), status(wave('wave 2/3')), T - 10, T)).toBe(0);
  });
});

describe('StatusWrites', () => {
  const ds = (rv: string, updated: number): V1DaemonSet => ({
    metadata: { uid: 'u', name: 'foo', resourceVersion: rv },
    status: status({ updatedNumberScheduled: updated }),
  });
  it('serves our own write while the informer still holds the version it replaced', () => {
    const writes = new StatusWrites();
    writes.record('u', '10', ds('11', 5), T);
    expect(writes.latest(ds('10', 4)).metadata?.resourceVersion).toBe('11');
    expect(writes.latest(ds('10', 4)).status?.updatedNumberScheduled).toBe(5);
    expect(writes.lastWriteAtMs('u')).toBe(T);
  });
  it('once the informer moved on, its copy wins (and keeps winning)', () => {
    const writes = new StatusWrites();
    writes.record('u', '10', ds('11', 5), T);
    expect(writes.latest(ds('12', 6)).metadata?.resourceVersion).toBe('12');
    expect(writes.latest(ds('10', 4)).metadata?.resourceVersion).toBe('10');
    expect(writes.lastWriteAtMs('u')).toBe(T);
    writes.forget('u');
    expect(writes.lastWriteAtMs('u')).toBeUndefined();
  });
});

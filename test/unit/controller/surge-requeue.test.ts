// A surge rollout with minReadySeconds must sync again when a Ready surge pod
// becomes available, even when no other sync is coming (issue 9, the stall in
// upstream's "[sig-apps] Daemon set should surge pods onto nodes" spec). Upstream
// relies on the pod's Ready transition (enqueue after minReadySeconds + 1 s);
// the controller's work queue keeps only the nearest delayed add per key, so
// that requeue can be absorbed by an earlier one for another pod, and then only
// the plan's own requeueAfterMs can bring the sync. These snapshots are the
// moment after that earlier sync: the only Ready-but-not-available pod is a
// surge pod next to an available old pod, and nothing would sync it again.
import { describe, expect, it } from 'vitest';
import type { V1DaemonSet, V1Pod } from '@kubernetes/client-node';
import { planDaemonSet } from '../../../src/controller/plan.ts';
import { computeHash } from '../../../src/controller/hash.ts';
import { NOW, daemonSet, nodes, pod, setImage, snapshot, surge } from './fixtures.ts';

const MIN_READY_SECONDS = 10;
const LONG_AGO = NOW - 3_600_000;

/** 4 nodes, maxSurge 20% (1 of 4), maxUnavailable 0, minReadySeconds 10, the template just changed. */
function rollingOut(): { ds: V1DaemonSet; oldHash: string } {
  const ds = daemonSet('foo', surge('20%'));
  ds.spec!.minReadySeconds = MIN_READY_SECONDS;
  const oldHash = computeHash(ds.spec!.template, ds.status?.collisionCount);
  setImage(ds, 'foo2/bar2');
  return { ds, oldHash };
}

interface Row {
  name: string;
  /** The pods of node-0 … node-3, old (previous revision) or new (current), Ready since when. */
  pods: (ds: V1DaemonSet, oldHash: string) => V1Pod[];
  /** The one pod that is Ready but not yet available, if any, and when it becomes available. */
  availableAt: number | undefined;
}

const old = (ds: V1DaemonSet, oldHash: string, node: string) =>
  pod(ds, node, { hash: oldHash, readySince: LONG_AGO, created: LONG_AGO });
const current = (ds: V1DaemonSet, node: string, readySince: number) =>
  pod(ds, node, { readySince, created: readySince - 1000 });

const rows: Row[] = [
  {
    name: 'the surge pod on node-0 turned Ready 3 s ago; every other node runs only its old pod',
    pods: (ds, h) => [
      old(ds, h, 'node-0'),
      current(ds, 'node-0', NOW - 3000),
      old(ds, h, 'node-1'),
      old(ds, h, 'node-2'),
      old(ds, h, 'node-3'),
    ],
    availableAt: NOW - 3000 + MIN_READY_SECONDS * 1000,
  },
  {
    name: 'as in the stall: node-3 holds only a new pod (its old one deleted by hand), available now; the surge pod on node-1 turned Ready 8 s ago',
    pods: (ds, h) => [
      current(ds, 'node-0', NOW - 60_000),
      old(ds, h, 'node-1'),
      current(ds, 'node-1', NOW - 8000),
      old(ds, h, 'node-2'),
      current(ds, 'node-3', NOW - 11_000),
    ],
    availableAt: NOW - 8000 + MIN_READY_SECONDS * 1000,
  },
];

describe('surge rollout with minReadySeconds: the plan requeues for a Ready surge pod', () => {
  for (const row of rows) {
    it(row.name, () => {
      const { ds, oldHash } = rollingOut();
      const plan = planDaemonSet(snapshot(ds, nodes(4), row.pods(ds, oldHash)));
      // Nothing to do yet: the surge pod is not available, and the surge budget (1) is used by it.
      expect(plan.skipped).toBeUndefined();
      expect(plan.creates).toEqual([]);
      expect(plan.deletes).toEqual([]);
      // So only a requeue brings the sync that deletes the old pod once the surge pod is available:
      // due no later than minReadySeconds (upstream's resync) and not before the pod is available.
      expect(plan.requeueAfterMs, 'no requeue: the rollout stalls until an unrelated event').toBeDefined();
      expect(plan.requeueAfterMs!).toBeGreaterThan(0);
      expect(plan.requeueAfterMs!).toBeLessThanOrEqual(MIN_READY_SECONDS * 1000);
      expect(NOW + plan.requeueAfterMs!).toBeGreaterThanOrEqual(row.availableAt!);
    });
  }

  it('no requeue when no pod is waiting to become available (the rollout is done)', () => {
    const { ds } = rollingOut();
    const pods = ['node-0', 'node-1', 'node-2', 'node-3'].map((n) => current(ds, n, NOW - 60_000));
    const plan = planDaemonSet(snapshot(ds, nodes(4), pods));
    expect(plan.creates).toEqual([]);
    expect(plan.deletes).toEqual([]);
    expect(plan.requeueAfterMs).toBeUndefined();
  });
});
